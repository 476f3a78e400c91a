"""Per-utterance length caps inside one batched HF ``generate`` call.

HF's ``max_new_tokens`` and ``ForcedEOSTokenLogitsProcessor`` take one length for the
whole batch, so utterances with different caps (``max_tokens_per_second`` x their
duration) would have to generate in separate calls. This processor forces eos on
each row once it has its own number of new tokens, so one call serves all of them
and a row's result does not depend on what it is batched with.
"""

import math
from typing import Sequence

import torch
from transformers import LogitsProcessor


def rate_cap(n_samples: int, fs: int, rate: float) -> int:
    """New tokens allowed for ``n_samples`` of audio at ``rate`` tokens per second:
    ``ceil(rate * seconds) + 4`` (the 4: room for a word or two and eos on very short audio)."""
    return math.ceil(rate * n_samples / fs) + 4


class RowLengthCapProcessor(LogitsProcessor):
    """After ``caps[b]`` new tokens, utterance b can only emit eos (at score 0).

    The score 0 leaves the hypothesis' score what it was after its last real token,
    as if generation had stopped at the cap.

    Args:
        caps: New tokens allowed per utterance (B,).
        eos: The eos token id.
        num_beams: Rows per utterance in ``generate`` (rows ``b * num_beams ...``).
    """

    def __init__(self, caps: Sequence[int], eos: int, num_beams: int = 1):
        if any(c < 0 for c in caps):
            raise ValueError(f"length caps must be >= 0, got {list(caps)}")
        self.caps = torch.tensor(list(caps)).repeat_interleave(num_beams)
        self.eos = eos
        self._start = None  # generate's input length at the first step

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        """``(R, L) ids, (R, V) scores -> (R, V)``, R = utterances * num_beams."""
        if self._start is None:
            self._start = input_ids.size(1)
        if self.caps.numel() != scores.size(0):
            raise ValueError(f"{self.caps.numel()} capped rows, but generate has {scores.size(0)}")
        done = (self.caps.to(scores.device) <= input_ids.size(1) - self._start)[:, None]
        if not bool(done.any()):
            return scores
        out = scores.masked_fill(done, float("-inf"))  # one (R, V) copy per step, not two
        out[:, self.eos] = torch.where(done[:, 0], 0.0, scores[:, self.eos])
        return out
