"""The projector slot: maps compressed speech states into the LLM embedding space.

The papers call it the adapter; ESPnet's AbsTask already owns ``--adapter`` (for
LoRA/Houlsby adapters), so the slot is ``--projector`` as in SLAM-LLM.
"""

from abc import ABC, abstractmethod
from typing import Tuple

import torch


class AbsProjector(torch.nn.Module, ABC):
    """Maps (B, T, Din) to (B, T', Dout); padded frames are zero.

    T' = T except for the convolutional adapters, which downsample by their stride
    (and return the new lengths).
    """

    @abstractmethod
    def output_size(self) -> int:
        """Feature size Dout, the LLM hidden size."""

    @abstractmethod
    def forward(
        self, hs_pad: torch.Tensor, hlens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Project a padded batch.

        Args:
            hs_pad: Compressed states (B, T, Din).
            hlens: Valid frames per utterance (B,).

        Returns:
            Adapted states (B, T', Dout), zero past each length, and their lengths (B,).
        """

    def max_output_length(self, n_frames: int) -> int:
        """Output frames for ``n_frames`` input frames (default: the same)."""
        return n_frames
