"""No compression: the encoder states pass through unchanged."""

from typing import Tuple

import torch
from typeguard import typechecked

from espnet_speechllm.asr.compressor.abs_compressor import AbsCompressor
from espnet_speechllm.asr.compressor.functional import zero_padding


class IdentityCompressor(AbsCompressor):
    """Keeps every frame; only zeroes the padded frames.

    Args:
        input_size: Encoder output size D.
    """

    @typechecked
    def __init__(self, input_size: int):
        super().__init__()
        self._output_size = input_size

    def output_size(self) -> int:
        return self._output_size

    def forward(
        self, hs_pad: torch.Tensor, hlens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, T, D), (B,) -> (B, T, D), (B,)"""
        return zero_padding(hs_pad, hlens), hlens
