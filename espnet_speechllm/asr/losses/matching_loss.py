"""The matching loss of arXiv 2406.17272 (Sec. 3.2): align audio and text embeddings.

A cross-attention whose queries are the LLM's input embeddings of the transcript and
whose keys/values are the projected audio embeddings gives one acoustic vector per text
token; MSE and cosine distance pull those vectors onto the text embeddings::

    text_emb (B, L, H) --query--+
                                 cross-attention --> acoustic (B, L, H)
    audio    (B, T', H) --k, v--+
    loss = mse_weight * MSE(acoustic, text_emb) + cos_weight * (1 - cos(acoustic, text_emb))

The text embeddings are a target: they are detached, so the gradient reaches the audio
side (projector, compressor, encoder) and the cross-attention only, never the LLM's
embedding table.

Wired in asr/losses/auxiliary_losses.py: model_conf ``matching_loss_weight`` (0 = off, the
default) and ``matching_conf: {mse_weight, cos_weight, num_heads}``; the transcript is the
CTC labels (``model_conf.ctc_target``), the loss is added after the CTC mix, and the stats
``loss_match``, ``loss_match_mse``, ``loss_match_cos`` are logged.
"""

from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from typeguard import typechecked

from espnet_speechllm.asr.compressor.functional import length_mask


class MatchingLoss(torch.nn.Module):
    """Cross-attention from text tokens to audio frames + weighted MSE / cosine distance.

    Args:
        size: Embedding size H of both audio and text (the LLM hidden size).
        num_heads: Heads of the cross-attention; must divide `size`.
        mse_weight: Weight of the mean squared error (mean over H).
        cos_weight: Weight of the cosine distance 1 - cos.
        dropout_rate: Attention dropout.
    """

    @typechecked
    def __init__(
        self,
        size: int,
        num_heads: int = 1,
        mse_weight: float = 1.0,
        cos_weight: float = 1.0,
        dropout_rate: float = 0.0,
    ):
        super().__init__()
        if num_heads < 1 or size % num_heads:
            raise ValueError(
                f"matching_conf num_heads ({num_heads}) must divide the LLM hidden "
                f"size ({size})"
            )
        if mse_weight < 0 or cos_weight < 0 or mse_weight + cos_weight == 0:
            raise ValueError(
                f"matching_conf mse_weight ({mse_weight}) and cos_weight ({cos_weight}) "
                "must be >= 0 and not both 0"
            )
        self.attention = torch.nn.MultiheadAttention(
            size, num_heads, dropout=dropout_rate, batch_first=True
        )
        self.mse_weight = mse_weight
        self.cos_weight = cos_weight

    def forward(
        self,
        audio: torch.Tensor,
        audio_lens: torch.Tensor,
        text_emb: torch.Tensor,
        text_lens: torch.Tensor,
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Matching loss of a padded batch.

        Args:
            audio: Projected audio embeddings (B, T', H).
            audio_lens: Valid audio frames (B,).
            text_emb: LLM input embeddings of the transcript tokens (B, L, H).
            text_lens: Valid tokens (B,).

        Returns:
            The loss (a scalar, mean over the valid tokens of utterances that have
            audio; 0 when there are none) and stats ``loss_match``,
            ``loss_match_mse``, ``loss_match_cos`` (detached).
        """
        target = text_emb.detach()
        if audio.size(1) == 0:  # no frame in the batch: nothing to attend to
            zero = audio.sum() * 0.0
            return zero, self._stats(zero.detach(), zero.detach(), zero.detach())
        ignore = ~length_mask(audio_lens, audio.size(1))  # (B, T')
        # A query row that ignores every key gives NaN; such utterances attend to
        # their padding and are left out of the loss below.
        ignore[audio_lens == 0] = False
        acoustic, _ = self.attention(
            target, audio, audio, key_padding_mask=ignore, need_weights=False
        )  # (B, L, H)
        valid = length_mask(text_lens, target.size(1)) & (audio_lens > 0)[:, None]
        mse = (acoustic - target).pow(2).mean(-1)[valid]  # (N valid tokens,)
        cos = 1.0 - F.cosine_similarity(acoustic, target, dim=-1)[valid]
        if mse.numel() == 0:
            zero = acoustic.sum() * 0.0
            return zero, self._stats(zero.detach(), zero.detach(), zero.detach())
        mse, cos = mse.mean(), cos.mean()
        loss = self.mse_weight * mse + self.cos_weight * cos
        return loss, self._stats(loss.detach(), mse.detach(), cos.detach())

    @staticmethod
    def _stats(
        loss: torch.Tensor, mse: torch.Tensor, cos: torch.Tensor
    ) -> Dict[str, torch.Tensor]:
        return {"loss_match": loss, "loss_match_mse": mse, "loss_match_cos": cos}
