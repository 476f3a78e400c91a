"""The compressor slot: shortens encoder states before the projector and the LLM."""

from abc import ABC, abstractmethod
from typing import Optional, Tuple

import torch
from espnet2.asr.ctc import CTC


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

    def max_output_length(self, n_frames: int) -> int:
        """Most output frames for ``n_frames`` input frames, known before compressing
        (decoding checks the LLM context with it). Default: no compressor lengthens."""
        return n_frames

    @property
    def ctc_head(self) -> Optional[CTC]:
        """ESPnet's ``CTC`` head over the encoder states; None when there is none.

        Its class 0 is the blank and class t + 1 is LLM token t (V + 1 classes):
        joint CTC/LLM decoding and ``model_conf.ctc_embedding`` read it.
        """
        return None

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
