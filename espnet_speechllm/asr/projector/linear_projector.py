"""One linear projection (as in ESPnet's HF decoder and SLAM-ASR's simplest)."""

from typing import Tuple

import torch
from typeguard import typechecked

from espnet_speechllm.asr.projector.abs_projector import AbsProjector
from espnet_speechllm.asr.compressor.functional import zero_padding


class LinearProjector(AbsProjector):
    """Linear(input_size -> output_size) on every frame.

    Args:
        input_size: Compressor output size.
        output_size: LLM hidden size.
    """

    @typechecked
    def __init__(self, input_size: int, output_size: int):
        super().__init__()
        self.linear = torch.nn.Linear(input_size, output_size)

    def output_size(self) -> int:
        return self.linear.out_features

    def forward(
        self, hs_pad: torch.Tensor, hlens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, T, Din), (B,) -> (B, T, Dout), (B,)"""
        return zero_padding(self.linear(hs_pad), hlens), hlens
