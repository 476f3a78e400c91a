"""Conv1dMLP: strided Conv1d then a two-layer MLP (the comprehensive solution's adapter)."""

from typing import Optional, Tuple

import torch
from typeguard import typechecked

from espnet_speechllm.asr.compressor.conv_compressor import ConvCompressor
from espnet_speechllm.asr.projector.abs_projector import AbsProjector
from espnet_speechllm.asr.projector.mlp_projector import MLPProjector


class Conv1dMLPProjector(AbsProjector):
    """Conv1d(stride) -> GELU -> Linear -> GELU -> Linear (arXiv 2406.17272, Sec. 2).

    ::

        (B, T, Din) --conv k, stride s--> (B, ceil(T / s), hidden) --MLP--> (B, T', Dout)

    Output frame t sees input frames [t * s, t * s + k); frames past each length are
    zeroed before the convolution, so padding never leaks into an utterance.

    Args:
        input_size: Compressor output size.
        output_size: LLM hidden size.
        stride: Downsampling rate of the convolution.
        kernel_size: Frames per convolution window; defaults to `stride`.
        hidden_size: Convolution channels and MLP inner size; defaults to `output_size`.
        dropout_rate: Dropout inside the MLP.
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        output_size: int,
        stride: int = 2,
        kernel_size: Optional[int] = None,
        hidden_size: Optional[int] = None,
        dropout_rate: float = 0.0,
    ):
        super().__init__()
        hidden_size = output_size if hidden_size is None else hidden_size
        self.conv = ConvCompressor(input_size, hidden_size, stride, kernel_size)
        self.mlp = MLPProjector(
            hidden_size, output_size, hidden_size, dropout_rate=dropout_rate
        )

    def output_size(self) -> int:
        return self.mlp.output_size()

    def forward(
        self, hs_pad: torch.Tensor, hlens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, T, Din), (B,) -> (B, ceil(T / stride), Dout), (B,)"""
        xs, xlens = self.conv(hs_pad, hlens)  # (B, T, Din) -> (B, T', hidden)
        return self.mlp(xs, xlens)
