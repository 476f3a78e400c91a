"""Strided 1-D convolution over time (the Speech-LLaMA baseline compressor)."""

from typing import Optional, Tuple

import torch
from typeguard import typechecked

from espnet_speechllm.asr.compressor.abs_compressor import AbsCompressor
from espnet_speechllm.asr.compressor.functional import zero_padding


class ConvCompressor(AbsCompressor):
    """Conv1d with stride `stride`, then GELU.

    Output frame t sees input frames [t * stride, t * stride + kernel_size); the input
    is zero-padded on the right, so an utterance of length l gives exactly
    ceil(l / stride) frames, and frames past l (zeroed first) never leak into them.

    Args:
        input_size: Encoder output size D.
        output_size: Output channels; defaults to `input_size`.
        stride: Time reduction factor.
        kernel_size: Frames per window; defaults to `stride` (no overlap).
        groups: Conv1d groups; `input_size` (= `output_size`) makes it depthwise.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        output_size: Optional[int] = None,
        stride: int = 4,
        kernel_size: Optional[int] = None,
        groups: int = 1,
    ):
        super().__init__()
        output_size = input_size if output_size is None else output_size
        kernel_size = stride if kernel_size is None else kernel_size
        for key, value in (
            ("output_size", output_size),
            ("stride", stride),
            ("kernel_size", kernel_size),
            ("groups", groups),
        ):
            if value < 1:
                raise ValueError(f"compressor_conf {key} must be >= 1, got {value}")
        if input_size % groups or output_size % groups:
            raise ValueError(
                f"compressor_conf groups ({groups}) must divide input_size "
                f"({input_size}) and output_size ({output_size})"
            )
        self.stride = stride
        self.kernel_size = kernel_size
        self._output_size = output_size
        self.conv = torch.nn.Conv1d(
            input_size, output_size, kernel_size, stride, groups=groups
        )
        self.activation = torch.nn.GELU()

    def output_size(self) -> int:
        return self._output_size

    def max_output_length(self, n_frames: int) -> int:
        return -(-n_frames // self.stride)  # ceil

    def forward(
        self, hs_pad: torch.Tensor, hlens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, T, D), (B,) -> (B, ceil(T / stride), output_size), (B,)"""
        tmax = hs_pad.size(1)
        n_out = -(-tmax // self.stride)
        olens = torch.div(hlens + self.stride - 1, self.stride, rounding_mode="floor")
        if n_out == 0:  # Conv1d rejects an empty time axis
            return hs_pad.new_zeros(hs_pad.size(0), 0, self._output_size), olens
        # Exactly enough frames for n_out windows: pads (or, if kernel < stride,
        # trims never-read frames).
        needed = (n_out - 1) * self.stride + self.kernel_size
        xs = zero_padding(hs_pad, hlens)[:, :needed]
        xs = torch.nn.functional.pad(xs, (0, 0, 0, needed - xs.size(1)))
        ys = self.activation(self.conv(xs.transpose(1, 2)))  # (B, D', T')
        return zero_padding(ys.transpose(1, 2), olens), olens
