"""CTC compressor of Speech-LLaMA (arXiv 2307.03917): CTC labels pick frames to merge.

CTC label layout: class 0 is the CTC blank and LLM token id t is CTC class t + 1,
because LLM vocabularies use id 0 for a real token. The head therefore has
vocab_size + 1 outputs, `aux_loss` shifts the targets up by one, and `ctc_greedy`
shifts its output back down.
"""

from typing import List, Optional, Tuple

import torch
from espnet2.asr.ctc import CTC
from typeguard import typechecked

from espnet_speechllm.asr.compressor.abs_compressor import AbsCompressor
from espnet_speechllm.asr.compressor.functional import (
    CTC_MODES,
    ctc_closed_frames,
    ctc_segment_ids,
    length_mask,
    segment_mean,
)

BLANK = 0


class CTCCompressor(AbsCompressor):
    """Shortens encoder states using the frame-wise argmax of a CTC head.

    `blank_removal` drops the frames whose argmax is blank. `frame_averaging` (the
    paper's better variant) averages each run of frames with the same argmax, blank
    runs included. The argmax carries no gradient; the head learns from `aux_loss`.
    An utterance can compress to length 0 (all blank under `blank_removal`).

    Args:
        input_size: Encoder output size D (also the output size).
        vocab_size: LLM vocabulary size; the CTC head has vocab_size + 1 classes.
        mode: `frame_averaging` or `blank_removal`.
        dropout_rate: Dropout on the encoder states before the CTC head (loss only).
    """

    @typechecked
    def __init__(
        self,
        input_size: int,
        vocab_size: int,
        mode: str = "frame_averaging",
        dropout_rate: float = 0.0,
    ):
        super().__init__()
        if mode not in CTC_MODES:
            raise ValueError(
                f"compressor_conf mode must be one of {CTC_MODES}, got {mode!r}"
            )
        if vocab_size < 1:
            raise ValueError(
                f"compressor_conf vocab_size must be >= 1, got {vocab_size}"
            )
        self.mode = mode
        self.vocab_size = vocab_size
        self._output_size = input_size
        # NOTE: espnet2's CTC calls F.dropout with training=True even in eval mode,
        # so the dropout lives here, where model.eval() switches it off.
        self.dropout = torch.nn.Dropout(dropout_rate)
        self.ctc = CTC(odim=vocab_size + 1, encoder_output_size=input_size)

    def output_size(self) -> int:
        return self._output_size

    def forward(
        self, hs_pad: torch.Tensor, hlens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Merge or drop frames by CTC argmax.

        Args:
            hs_pad: Encoder states (B, T, D).
            hlens: Valid frames per utterance (B,).

        Returns:
            Compressed states (B, T', D), T' = max(olens) (may be 0), and olens (B,).
        """
        with torch.no_grad():
            pred = self.ctc.argmax(hs_pad)  # (B, T)
        seg, olens = ctc_segment_ids(pred, hlens, BLANK, self.mode)
        n_max = int(olens.max()) if olens.numel() > 0 else 0
        return segment_mean(hs_pad, seg, n_max), olens

    def forward_online(
        self, hs_pad: torch.Tensor, hlens: torch.Tensor, is_final: bool = False
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Compress only the segments that are final (streaming).

        Give the encoder frames not yet consumed (from the first frame of an open
        segment on); the frames after ``used`` go back in with the next frames.
        Segment means are segment-local, so the positions emitted over an utterance
        are exactly ``forward``'s on the whole encoder output.

        Args:
            hs_pad: Encoder states (B, T, D).
            hlens: Valid frames per utterance (B,).
            is_final: No frame follows: every segment is final.
        Returns:
            Compressed states of the final segments (B, T', D), their count (B,),
            and ``used`` (B,): the frames they consumed.
        """
        with torch.no_grad():
            pred = self.ctc.argmax(hs_pad)  # (B, T)
        used = hlens.clone() if is_final else ctc_closed_frames(pred, hlens, BLANK, self.mode)
        seg, olens = ctc_segment_ids(pred, used, BLANK, self.mode)
        n_max = int(olens.max()) if olens.numel() > 0 else 0
        return segment_mean(hs_pad, seg, n_max), olens, used

    @property
    def ctc_head(self) -> CTC:
        return self.ctc

    def aux_loss(
        self,
        hs_pad: torch.Tensor,
        hlens: torch.Tensor,
        ys_pad: torch.Tensor,
        ys_lens: torch.Tensor,
    ) -> Optional[torch.Tensor]:
        """CTC loss of the head, summed over utterances and divided by B (espnet2 CTC).

        Args:
            hs_pad: Encoder states (B, T, D).
            hlens: Valid frames per utterance (B,).
            ys_pad: LLM token ids (B, L), padded with -1.
            ys_lens: Tokens per utterance (B,).

        Returns:
            Scalar loss.
        """
        valid = length_mask(ys_lens, ys_pad.size(1))
        tokens = ys_pad[valid]
        if tokens.numel() > 0 and (tokens.min() < 0 or tokens.max() >= self.vocab_size):
            raise ValueError(
                f"CTC targets must be LLM token ids in [0, {self.vocab_size}) "
                f"(compressor_conf vocab_size), got [{int(tokens.min())}, "
                f"{int(tokens.max())}]"
            )
        ys_ctc = torch.where(valid, ys_pad + 1, ys_pad)  # token t -> CTC class t + 1
        return self.ctc(self.dropout(hs_pad), hlens, ys_ctc, ys_lens)

    def ctc_greedy(self, hs_pad: torch.Tensor, hlens: torch.Tensor) -> List[List[int]]:
        """Greedy CTC transcript as LLM token ids (repeats collapsed, blanks removed).

        Args:
            hs_pad: Encoder states (B, T, D).
            hlens: Valid frames per utterance (B,).
        """
        with torch.no_grad():
            pred = self.ctc.argmax(hs_pad).cpu()
        hyps = []
        for labels, hlen in zip(pred, hlens.tolist()):
            collapsed = torch.unique_consecutive(labels[:hlen])
            hyps.append((collapsed[collapsed != BLANK] - 1).tolist())
        return hyps
