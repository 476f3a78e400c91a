"""Incremental LLM decoding of a growing audio prefix, from the HF KV cache.

The LLM input of a streamed utterance (p: prompt before the audio, a: the final audio
positions so far, q: prompt after the audio, s: stable tokens, u: re-decoded tail)::

    cache    p p a a a a              grows with each chunk, never recomputed (all
                                      but the last position: generate runs that one)
    partial  p p a a a a a q s s u u  q + s in one pass from the cache, u by generate
    final    p p a a a a a a q t t t  the whole hypothesis re-decoded (offline options)

After each chunk the new audio positions extend the cache (``extend_cache``). A
partial hypothesis keeps the previous one but its last ``unstable_tokens`` (the tokens
decoded from the audio's newest positions) and lets HF ``generate`` re-decode the tail
from there; ``generate`` reads the cache (``past_key_values``) and runs only the
positions after it. The cache is cropped back to the audio prefix after each partial.
"""

import copy
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from espnet_speechllm.asr.decoder.abs_llm_decoder import AbsLLMDecoder


class IncrementalDecoding:
    """KV cache of ``[pre | audio so far]`` (but its last position) and hypotheses from it.

    Args:
        decoder: The model's LLM (``HFLLMDecoder``: ``extend_cache``, ``generate``).
        pre: Prompt token ids before the audio.
        post: Prompt token ids after the audio.
        unstable_tokens: Last tokens of the previous partial that are re-decoded.
    """

    def __init__(
        self, decoder: AbsLLMDecoder, pre: Sequence[int], post: Sequence[int], unstable_tokens: int = 2
    ):
        if unstable_tokens < 0:
            raise ValueError(f"unstable_tokens={unstable_tokens} must be >= 0")
        self.decoder = decoder
        self.unstable_tokens = unstable_tokens
        device = decoder.input_embeddings.weight.device
        self._post = decoder.embed(torch.tensor([list(post)], dtype=torch.long, device=device))
        pre_emb = decoder.embed(torch.tensor([list(pre)], dtype=torch.long, device=device))
        # (1, P, D): the prefix so far; the cache holds all of it but the last position,
        # so that generate always has a position to run (as HFLLMDecoder._prefill).
        self.prefix = pre_emb
        self.cache = decoder.extend_cache(pre_emb[:, :-1])
        self.n_audio = 0
        self.partial: List[int] = []

    def extend(self, audio: torch.Tensor) -> None:
        """Append new audio positions (1, N, D) to the cache."""
        audio = audio.to(self.prefix.dtype)
        self.prefix = torch.cat([self.prefix, audio], dim=1)
        todo = self.prefix[:, self.cache.get_seq_length() : -1]  # the held-back one + new - last
        self.cache = self.decoder.extend_cache(todo, self.cache)
        self.n_audio += audio.size(1)

    def stable_tokens(self) -> List[int]:
        """The previous partial without its last ``unstable_tokens``."""
        keep = max(0, len(self.partial) - self.unstable_tokens)
        return self.partial[:keep]

    def hypotheses(
        self,
        forced: Sequence[int],
        max_new_tokens: int,
        num_beams: int = 1,
        nbest: int = 1,
        eos: Optional[int] = None,
        keep_cache: bool = True,
        **generate_kwargs: Any,
    ) -> List[Tuple[List[int], float]]:
        """``forced + generated`` n-best after ``[prefix | post | forced]``, from the cache.

        Args:
            forced: Tokens taken as decoded (run in one pass, not generated).
            max_new_tokens: Cap on the tokens generated after ``forced``.
            num_beams, nbest, eos, generate_kwargs: As ``decoder.generate``.
            keep_cache: Crop the cache back to the prefix afterwards (else it is
                consumed: the end of the utterance).
        Returns:
            ``[(ids, score)]``; the score is that of the generated part.
        """
        device = self.prefix.device
        forced = list(forced)
        tail = self.decoder.embed(torch.tensor([forced], dtype=torch.long, device=device))
        seq = torch.cat([self.prefix, self._post, tail.to(self.prefix.dtype)], dim=1)
        n_cached = self.cache.get_seq_length()
        cache = self.cache
        if num_beams > 1:
            # generate does not expand a given cache for its beams (see HFLLMDecoder._prefill).
            cache = copy.deepcopy(self.cache) if keep_cache else cache
            cache.batch_repeat_interleave(num_beams)
        caps: Any = [max_new_tokens] if isinstance(max_new_tokens, int) else max_new_tokens
        lens = torch.tensor([seq.size(1)], device=device)
        hyps = self.decoder.generate(
            seq, lens, num_beams=num_beams, nbest=nbest, max_new_tokens=caps, eos=eos,
            past_key_values=cache, **generate_kwargs,
        )[0]
        if keep_cache and num_beams == 1:
            self.cache.crop(n_cached - self.cache.get_seq_length())  # a negative count: drop them
        return [(forced + ids, score) for ids, score in hyps]

    def update_partial(self, ids: List[int]) -> None:
        """Record the partial that the next one starts from."""
        self.partial = list(ids)


def generate_kwargs_without_beams(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Greedy partials: the offline generate options minus beam search."""
    out = dict(kwargs)
    out.update(num_beams=1, nbest=1)
    out.pop("length_penalty", None)
    return out
