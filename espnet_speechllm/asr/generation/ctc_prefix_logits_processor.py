"""Joint CTC / LLM decoding inside Hugging Face ``generate``.

Hybrid CTC/attention decoding (Watanabe et al., 2017) as ESPnet's
``ctc_weight`` does it, for the speech-LLM: at each step the LLM's best
``pre_beam`` tokens of every hypothesis are rescored by

    (1 - ctc_weight) * log p_llm(c | y) + ctc_weight * (log psi(y + c) - log psi(y))

where ``psi`` is the CTC prefix probability of the encoder's CTC head, and
every other token is forbidden. CTC's prefix probability knows where the audio
ends, so the LLM can no longer stop early (deletions) or run on (insertions).

The CTC prefix arithmetic is ESPnet's ``CTCPrefixScore``. What no library
provides is the glue to HF ``generate``, which reorders hypotheses without
telling a logits processor: the states are kept by (utterance, prefix) instead,
which works for greedy search and beam search alike.
"""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from transformers import LogitsProcessor

from espnet_speechllm.utils.compat import CTCPrefixScore

# CTC class 0 is blank; LLM token t is CTC class t + 1 (see CTCCompressor).
_BLANK = 0


class CTCPrefixLogitsProcessor(LogitsProcessor):
    """Adds CTC prefix scores to the LLM's next-token log-probabilities.

    Args:
        ctc_logp: Per utterance, CTC log-posteriors (T_b, V + 1), class 0 = blank.
        eos: The LLM's eos token id (scored by CTC as "the audio ends here").
        ctc_weight: Weight of CTC in (0, 1]; the LLM gets ``1 - ctc_weight``.
        num_beams: Rows per utterance in ``generate`` (rows ``b * num_beams ...``).
        pre_beam: LLM candidates per hypothesis rescored by CTC.
        prefixes: Per utterance, tokens already in place before what ``generate``
            emits (streaming's forced stable tokens); None: none.
    """

    def __init__(
        self,
        ctc_logp: Sequence[torch.Tensor],
        eos: int,
        ctc_weight: float,
        num_beams: int,
        pre_beam: int,
        prefixes: Optional[Sequence[Sequence[int]]] = None,
    ):
        if not 0.0 < ctc_weight <= 1.0:
            raise ValueError(f"ctc_weight={ctc_weight} must be in (0, 1]")
        self.eos = eos
        self.weight = ctc_weight
        self.num_beams = num_beams
        self.pre_beam = pre_beam
        self._scorers = [
            CTCPrefixScore(x.float().cpu().numpy(), _BLANK, eos + 1, np) for x in ctc_logp
        ]
        # (utterance, prefix) -> (CTC state r (T, 2), log psi of the prefix)
        self._states: Dict[Tuple[int, Tuple[int, ...]], Tuple[np.ndarray, float]] = {}
        self._start = None  # generate's prompt length (0 with inputs_embeds)
        self._prefixes = [tuple(p) for p in prefixes] if prefixes else [()] * len(ctc_logp)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        """``(R, L) ids, (R, V) scores -> (R, V)`` joint scores; R = utterances * num_beams."""
        if self._start is None:
            self._start = input_ids.size(1)
        logp = torch.log_softmax(scores.float(), dim=-1)
        k = min(self.pre_beam, logp.size(-1))
        top = logp.topk(k, dim=-1).indices.cpu().numpy()
        joint = torch.full_like(logp, float("-inf"))
        for row, ids in enumerate(input_ids[:, self._start :].tolist()):
            if self.eos in ids:  # finished (greedy pads with eos): any finite score
                joint[row] = logp[row]
                continue
            utt = row // self.num_beams
            cands = top[row][np.isfinite(logp[row, top[row]].cpu().numpy())]
            if len(cands) == 0:
                continue
            ctc_delta = self._extend(utt, self._prefixes[utt] + tuple(ids), cands)
            idx = torch.as_tensor(cands, device=logp.device)
            joint[row, idx] = (1.0 - self.weight) * logp[row, idx] + self.weight * torch.as_tensor(
                ctc_delta, dtype=logp.dtype, device=logp.device
            )
        return joint.to(scores.dtype)

    def _extend(self, utt: int, prefix: Tuple[int, ...], cands: np.ndarray) -> np.ndarray:
        """``log psi(prefix + c) - log psi(prefix)`` for each candidate c; caches the new states."""
        scorer = self._scorers[utt]
        if len(prefix) >= scorer.input_length:  # every frame already holds a label
            return np.where(cands == self.eos, 0.0, scorer.logzero)
        # (checked first: a prefix as long as the frames has no state to look up)
        r_prev, psi_prev = self._state(utt, prefix)
        # CTCPrefixScore leaves the state rows before the prefix length
        # uninitialised and never reads them back; numpy warns on that garbage.
        with np.errstate(all="ignore"):
            psi, r = scorer(self._labels(prefix), cands + 1, r_prev)
        for c, p, state in zip(cands.tolist(), psi.tolist(), r):
            if c != self.eos:
                self._states[(utt, prefix + (c,))] = (state, p)
        return psi - psi_prev

    def _state(self, utt: int, prefix: Tuple[int, ...]) -> Tuple[np.ndarray, float]:
        key = (utt, prefix)
        if key not in self._states:
            if prefix:  # a hypothesis that took a forbidden token: score it now
                self._extend(utt, prefix[:-1], np.array(prefix[-1:]))
            else:
                self._states[key] = (self._scorers[utt].initial_state(), 0.0)
        return self._states[key]

    def _labels(self, prefix: Tuple[int, ...]) -> List[int]:
        # CTCPrefixScore expects [sos] + labels; only the length and the last label matter.
        return [self.eos + 1] + [t + 1 for t in prefix]
