"""The shared shape of the convolutional adapters: a strided conv front, then a head."""

from typing import Tuple

import torch

from espnet_speechllm.asr.compressor.conv_compressor import ConvCompressor
from espnet_speechllm.asr.projector.abs_projector import AbsProjector


class ConvHeadProjector(AbsProjector):
    """``conv`` (a strided ConvCompressor) then ``head`` (a projector); subclasses build both.

    ::

        (B, T, Din) --conv k, stride s--> (B, ceil(T / s), C) --head--> (B, T', Dout)
    """

    conv: ConvCompressor
    head: AbsProjector

    def output_size(self) -> int:
        return self.head.output_size()

    def forward(
        self, hs_pad: torch.Tensor, hlens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, T, Din), (B,) -> (B, ceil(T / stride), Dout), (B,)"""
        xs, xlens = self.conv(hs_pad, hlens)  # (B, T, Din) -> (B, T', C)
        return self.head(xs, xlens)

    def max_output_length(self, n_frames: int) -> int:
        return self.head.max_output_length(self.conv.max_output_length(n_frames))
