"""The compressor slot: shortens encoder states before the projector and the LLM."""

from abc import ABC, abstractmethod
from typing import Optional, Tuple

import torch


class AbsCompressor(torch.nn.Module, ABC):
    """Maps encoder states (B, T, D) to a shorter sequence (B, T', D').

    Implementations compute the output lengths themselves (they may depend on the
    data, as for CTC) and return zeros in the padded output frames.
    """

    @abstractmethod
    def output_size(self) -> int:
        """Feature size D' of the compressed states."""

    @abstractmethod
    def forward(
        self, hs_pad: torch.Tensor, hlens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Compress a padded batch.

        Args:
            hs_pad: Encoder states (B, T, D).
            hlens: Valid frames per utterance (B,).

        Returns:
            Compressed states (B, T', D'), zero past each length, and lengths (B,).
        """

    def aux_loss(
        self,
        hs_pad: torch.Tensor,
        hlens: torch.Tensor,
        ys_pad: torch.Tensor,
        ys_lens: torch.Tensor,
    ) -> Optional[torch.Tensor]:
        """Auxiliary training loss on the encoder states; None when there is none.

        Args:
            hs_pad: Encoder states (B, T, D), the same input as `forward`.
            hlens: Valid frames per utterance (B,).
            ys_pad: LLM token ids of the transcript (B, L), padded with -1.
            ys_lens: Tokens per utterance (B,).
        """
        return None
