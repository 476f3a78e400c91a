"""Decide "is there anything to transcribe?" once, at the first step, by a threshold.

Greedy and beam search end an utterance with "" as soon as eos is the most likely first
token, however unsure the LLM is: a speech-LLM trained to decode non-speech to "" does
that on speech unlike its training speech with p(eos) as low as 0.2 (espeak_en
RESULTS.md, generalization), while most non-speech clips get p(eos) > 0.9. This
processor makes the choice a calibrated detector instead: the hypothesis is "" where the
first-step p(eos) >= ``threshold``, and elsewhere the first step cannot be eos, so the
search transcribes. ``threshold`` is set on held-out non-speech
(``espnet_speechllm.bin.speechllm_empty_threshold``), not by hand on a test set.

HF ``generate`` has no such rule (``begin_suppress_tokens`` always suppresses; nothing
forces eos by a probability), hence this class.
"""

import math
from typing import Optional

import torch
from transformers import LogitsProcessor


class EmptyThresholdProcessor(LogitsProcessor):
    """First step: eos only where p(eos) >= threshold, else never; then a plain log-softmax.

    Every step returns log-probabilities (the first step's kept as the LLM gave them, not
    renormalised), so a hypothesis' score stays its log-probability under the LLM.

    Args:
        eos: The eos token id.
        threshold: In (0, 1]; 1 means "never empty unless the LLM is certain".
    """

    def __init__(self, eos: int, threshold: float):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"--empty_threshold {threshold} must be in (0, 1]")
        self.eos = eos
        self.threshold = threshold
        self._log_threshold = math.log(threshold)
        self._start: Optional[int] = None  # generate's input length at the first step

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        """``(R, L) ids, (R, V) scores -> (R, V)`` log-probabilities."""
        logp = torch.log_softmax(scores.float(), dim=-1)
        if self._start is None:
            self._start = input_ids.size(1)
        if input_ids.size(1) != self._start:
            return logp
        empty = logp[:, self.eos] >= self._log_threshold
        eos_logp = logp[:, self.eos].clone()
        out = logp.masked_fill(empty[:, None], float("-inf"))
        out[:, self.eos] = torch.where(empty, eos_logp, torch.full_like(eos_logp, float("-inf")))
        return out
