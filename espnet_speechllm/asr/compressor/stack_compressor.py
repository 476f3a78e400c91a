"""Frame stacking: concatenate `stride` consecutive frames into one."""

from typing import Tuple

import torch
from typeguard import typechecked

from espnet_speechllm.asr.compressor.abs_compressor import AbsCompressor
from espnet_speechllm.asr.compressor.functional import stack_frames


class StackCompressor(AbsCompressor):
    """Concatenates `stride` consecutive frames (SLAM-ASR's linear projector input).

    Output lengths are ceil(hlens / stride); the last frame of an utterance is
    completed with zero frames.

    Args:
        input_size: Encoder output size D.
        stride: Frames per output frame; the output size is D * stride.
    """

    @typechecked
    def __init__(self, input_size: int, stride: int = 4):
        super().__init__()
        if stride < 1:
            raise ValueError(f"compressor_conf stride must be >= 1, got {stride}")
        self.stride = stride
        self._output_size = input_size * stride

    def output_size(self) -> int:
        return self._output_size

    def max_output_length(self, n_frames: int) -> int:
        return -(-n_frames // self.stride)  # ceil

    def forward(
        self, hs_pad: torch.Tensor, hlens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, T, D), (B,) -> (B, ceil(T / stride), D * stride), (B,)"""
        return stack_frames(hs_pad, hlens, self.stride)
