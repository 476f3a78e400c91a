"""The decoder slot: a causal LLM that reads continuous prefixes.

What the model, decoding and the task rely on, and nothing more: a new LLM backend
implements these members and plugs into ``decoder_choices`` of tasks/speechllm.py.
The prefix (prompt + audio embeddings, width ``output_size()``) comes from the model;
the decoder appends the text and predicts ``text + [eos]``::

    hs_pad   p p p a a a q _ _     (B, P, D), hlens (B,)
    ys       t t t _               (B, L), ys_in_lens (B,)
    logits   . . . . . . . t t t E (B, L + 1, V)
"""

from abc import ABC, abstractmethod
from typing import Any, List, Optional, Sequence, Tuple, Union

import torch

from espnet_speechllm.utils.compat import AbsDecoder


class AbsLLMDecoder(AbsDecoder, ABC):
    """A causal LLM behind ``[prefix | text]`` embeddings.

    Implementations set ``self.tokenizer`` (an HF tokenizer: ``decode``,
    ``convert_ids_to_tokens``, ``eos_token_id``, ``len()``) in ``__init__``.
    """

    tokenizer: Any

    @property
    @abstractmethod
    def eos(self) -> int:
        """End-of-sequence token id (appended to every target)."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Rows of the input embedding table V (token ids are in ``[0, V)``)."""

    @property
    @abstractmethod
    def context_length(self) -> Optional[int]:
        """Most positions (prefix + text) the LLM reads; None if unbounded or unknown."""

    @property
    @abstractmethod
    def input_embeddings(self) -> torch.nn.Embedding:
        """The LLM's token embedding table, weight (V, D)."""

    @abstractmethod
    def output_size(self) -> int:
        """Hidden size D of the LLM (the width the projector must produce)."""

    @abstractmethod
    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings; negative (padding) ids must not fail.  ``(B, L) -> (B, L, D)``"""

    @abstractmethod
    def forward(
        self,
        hs_pad: torch.Tensor,
        hlens: torch.Tensor,
        ys_in_pad: torch.Tensor,
        ys_in_lens: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced logits of ``text + [eos]`` after each prefix.

        Args:
            hs_pad: Prefix embeddings, right padded (B, P, D).
            hlens: Prefix lengths (B,), each >= 1.
            ys_in_pad: Target token ids, padded with -1 (B, L).
            ys_in_lens: Target lengths (B,).
        Returns:
            logits (B, L + 1, V) predicting ``ys + [eos]``; lengths ``ys_in_lens + 1``.
        """

    def next_token_logits(self, hs_pad: torch.Tensor, hlens: torch.Tensor) -> torch.Tensor:
        """Scores of the first token after each prefix, as ``generate``'s first step sees
        them (one teacher-forced pass with no text).  ``(B, P, D), (B,) -> (B, V)``"""
        no_text = torch.full((hs_pad.size(0), 0), -1, dtype=torch.long, device=hs_pad.device)
        logits, _ = self.forward(hs_pad, hlens, no_text, hlens.new_zeros(hs_pad.size(0)))
        return logits[:, 0]

    def text_log_prob(
        self, hs_pad: torch.Tensor, hlens: torch.Tensor, texts: Sequence[Sequence[int]], eos: int
    ) -> torch.Tensor:
        """Summed log-probability of each ``text + [eos]`` (token ids) after its prefix,
        teacher forced.  ``(B, P, D), (B,), B id lists -> (B,)``"""
        lens = torch.tensor([len(t) for t in texts], device=hs_pad.device)
        ys = torch.full((len(texts), max(1, int(lens.max()))), -1, dtype=torch.long, device=hs_pad.device)
        for j, t in enumerate(texts):
            ys[j, : len(t)] = torch.tensor(list(t), dtype=torch.long)
        logits, _ = self.forward(hs_pad, hlens, ys, lens)
        target = torch.cat([ys.clamp(min=0), ys.new_zeros(ys.size(0), 1)], 1)
        target[torch.arange(target.size(0)), lens] = eos  # (B, L + 1): ys, eos, pad
        logp = torch.log_softmax(logits.float(), dim=-1).gather(2, target[..., None])[..., 0]
        keep = torch.arange(target.size(1), device=target.device)[None] <= lens[:, None]
        return (logp * keep).sum(1)

    @abstractmethod
    def generate(
        self,
        hs_pad: torch.Tensor,
        hlens: torch.Tensor,
        num_beams: int = 1,
        nbest: int = 1,
        max_new_tokens: Union[int, Sequence[int]] = 64,
        eos: Optional[int] = None,
        **generate_kwargs,
    ) -> List[List[Tuple[List[int], float]]]:
        """Decode after each prefix.

        Args:
            hs_pad: Prefix embeddings, right padded (B, P, D).
            hlens: Prefix lengths (B,).
            num_beams: Beam size (1 = greedy).
            nbest: Hypotheses returned per utterance (<= num_beams).
            max_new_tokens: Length cap of the generated text, or one per utterance.
            eos: The token that ends a hypothesis (default ``self.eos``; a chat model's
                end of turn, ``ESPnetSpeechLLMModel.eos``).
            generate_kwargs: Search options (``logits_processor``, ``min_new_tokens``, ...).
        Returns:
            For each utterance, ``nbest`` (token ids without eos, log score) pairs, best first.
        """

    def set_low_precision(self, dtype: Optional[torch.dtype]) -> None:
        """Compute in ``dtype`` (bf16 / fp16) with fp32 trained weights; None: fp32.

        Optional: ``speechllm_inference --dtype bfloat16`` calls it; a backend
        without low-precision support says so.
        """
        raise NotImplementedError(f"{type(self).__name__} has no low-precision mode (--dtype float32)")
