"""Speech2TextLLMStreaming: online decoding of a streaming speech-LLM, chunk by chunk.

The shape of ESPnet's ``Speech2TextStreaming`` (espnet2/bin/asr_inference_streaming.py):
``__call__(speech_chunk, is_final=False)`` returns the partial n-best of the audio so
far, ``is_final=True`` the final one (and resets), ``reset()`` starts a new utterance.

    >>> s2t = Speech2TextLLMStreaming("exp/x/config.yaml", "exp/x/valid.acc.ave.pth")
    >>> for chunk in chunks[:-1]:
    ...     print(s2t(chunk)[0].text)          # partial
    >>> s2t(chunks[-1], is_final=True)[0].text  # final

Per chunk: ``model.encode_chunk`` (frontend, block-wise encoder, online CTC
compression: the LLM audio positions that are final), which extend the LLM's KV cache
(``IncrementalDecoding``); a partial is decoded greedily (with the CTC prefix score of
the frames so far when ``ctc_weight`` > 0), keeping the previous partial but its last
``unstable_tokens``. At the end of the utterance a final pass decodes the whole
hypothesis from the cache with the offline options (beam, CTC weight, length caps), so
the final hypothesis is the offline one of the same audio positions.
"""

import logging
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np
import torch
from transformers import LogitsProcessorList
from typeguard import typechecked

from espnet_speechllm.asr.generation.ctc_prefix_logits_processor import CTCPrefixLogitsProcessor
from espnet_speechllm.asr.generation.incremental_decoding import (
    IncrementalDecoding,
    generate_kwargs_without_beams,
)
from espnet_speechllm.bin.speech2text_llm import EMPTY, Hypothesis, Speech2TextLLM


class Speech2TextLLMStreaming(Speech2TextLLM):
    """Streaming twin of ``Speech2TextLLM``, built from the same train config + model file.

    Args:
        train_config, model_file: As ``Speech2TextLLM``; the model must stream
            (``encoder: contextual_block_conformer``, see ``model.check_streaming``).
        unstable_tokens: Tokens at the end of each partial that the next chunk
            re-decodes (the rest is kept: a partial revises at most these).
        kwargs: ``Speech2TextLLM``'s decoding options (beam_size, ctc_weight, ...):
            the final pass uses them; partials are greedy.
    """

    @typechecked
    def __init__(
        self,
        train_config: Union[Path, str, None] = None,
        model_file: Union[Path, str, None] = None,
        unstable_tokens: int = 2,
        **kwargs,
    ):
        if kwargs.get("trim_silence_db") is not None:
            raise ValueError(
                "--trim_silence_db is for offline decoding: a chunk's silence is not the "
                "utterance's (trim the audio before streaming it)"
            )
        if kwargs.get("empty_threshold") is not None:
            raise ValueError(
                "--empty_threshold is for offline decoding: each partial hypothesis of a stream "
                "would decide it on part of the utterance"
            )
        super().__init__(train_config, model_file, **kwargs)
        self.model.check_streaming(str(train_config))
        if unstable_tokens < 0:
            raise ValueError(f"--unstable_tokens {unstable_tokens} must be >= 0")
        self.unstable_tokens = unstable_tokens
        self.reset()

    def reset(self) -> None:
        """Forget the current utterance."""
        self.state = self.model.new_stream()
        pre, post = self.prompts([{}])[0]  # the eval prompt, or the chat layout's turn
        self.llm = IncrementalDecoding(self.model.decoder, pre, post, self.unstable_tokens)

    @property
    def n_samples(self) -> int:
        """Samples of the current utterance received so far."""
        return self.state.n_samples

    @torch.no_grad()
    def __call__(
        self,
        speech: Union[torch.Tensor, np.ndarray],
        is_final: bool = False,
        fs: Optional[int] = None,
    ) -> List[Hypothesis]:
        """Feed the next chunk (S,); the partial (or with ``is_final`` the final) n-best.

        A partial is ``[]`` while no audio position is final yet; the final result
        has ``nbest`` entries (empty hypotheses when the audio gives none).
        """
        wav = self._waveform(speech, "stream", fs).to(self.device)
        audio, self.state = self.model.encode_chunk(wav, self.state, is_final)
        self.llm.extend(audio)
        if is_final:
            try:
                return self._final()
            finally:
                self.reset()
        if self.llm.n_audio == 0:
            return []
        forced = self.llm.stable_tokens()
        cap = self.token_cap(self.state.n_samples)
        kwargs = generate_kwargs_without_beams(self.generate_kwargs)
        self._add_ctc(kwargs, forced, num_beams=1)
        ids, score = self.llm.hypotheses(
            forced, max(0, cap - len(forced)), eos=self.eos, **kwargs
        )[0]
        self.llm.update_partial(ids)
        return [self._hypothesis(ids, score, "stream")]

    def chunk_samples(self, chunk_ms: float) -> int:
        """Samples in a chunk of ``chunk_ms`` milliseconds."""
        if chunk_ms <= 0:
            raise ValueError(f"--chunk_ms {chunk_ms} must be > 0")
        return max(1, int(round(self.fs * chunk_ms / 1000)))

    @torch.no_grad()
    def decode_chunked(
        self, speech: Union[torch.Tensor, np.ndarray], chunk_ms: float, fs: Optional[int] = None
    ) -> Tuple[List[Hypothesis], List[List[Hypothesis]]]:
        """Simulated streaming of a whole waveform (ESPnet's ``--sim_chunk_length``).

        Returns:
            The final n-best and the partial n-best after each chunk but the last.
        """
        self.reset()
        wav = self._waveform(speech, "stream", fs)
        step = self.chunk_samples(chunk_ms)
        starts = list(range(0, max(1, wav.numel()), step))
        partials = [self(wav[i : i + step], fs=self.fs) for i in starts[:-1]]
        return self(wav[starts[-1] :], is_final=True, fs=self.fs), partials

    def _final(self) -> List[Hypothesis]:
        if self.state.n_samples < self.min_samples or self.llm.n_audio == 0:
            logging.info("stream: no audio position: empty hypothesis")
            return [EMPTY] * self.nbest
        kwargs = dict(self.generate_kwargs)
        self._add_ctc(kwargs, [], num_beams=kwargs["num_beams"])
        hyps = self.llm.hypotheses(
            [], self.token_cap(self.state.n_samples), eos=self.eos, keep_cache=False, **kwargs
        )
        return [self._hypothesis(ids, score, "stream") for ids, score in hyps]

    def _add_ctc(self, kwargs: dict, forced: List[int], num_beams: int) -> None:
        """The joint CTC scorer over the encoder frames so far, after ``forced``."""
        logp = self.state.ctc_posteriors()
        if self.ctc_weight == 0 or logp is None:
            return
        kwargs["logits_processor"] = LogitsProcessorList(
            [
                CTCPrefixLogitsProcessor(
                    [logp],
                    eos=self.eos,
                    ctc_weight=self.ctc_weight,
                    num_beams=num_beams,
                    pre_beam=self.ctc_pre_beam,
                    prefixes=[forced],
                )
            ]
        )
