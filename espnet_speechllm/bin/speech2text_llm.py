"""Speech2TextLLM: the Python decoding API of a trained speech-LLM (waveforms -> n-best).

``bin/speechllm_inference.py`` runs it over a data set.
"""

import logging
import math
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from transformers import LogitsProcessorList
from typeguard import typechecked

from espnet_speechllm.asr.decoding_input import DecodingInput
from espnet_speechllm.asr.generation.ctc_prefix_logits_processor import CTCPrefixLogitsProcessor
from espnet_speechllm.asr.generation.empty_threshold_processor import EmptyThresholdProcessor
from espnet_speechllm.asr.generation.length_cap_processor import rate_cap
from espnet_speechllm.pretrained.archive import packed_model
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from espnet_speechllm.utils.audio_input import AudioError, to_model_input
from espnet_speechllm.utils.kaldi_io import one_line
from espnet_speechllm.utils.low_precision import autocast_dtype
from espnet_speechllm.utils.trim_silence import parse_keep, trim_silence


class BadUtteranceError(ValueError):
    """One utterance cannot be decoded; ``key`` names it, the message says why."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


class Hypothesis(NamedTuple):
    """One decoded text; unpacks as ``text, tokens, token_ids, score = hyp``."""

    text: str
    tokens: List[str]
    token_ids: List[int]
    score: float


EMPTY = Hypothesis("", [], [], 0.0)


class Speech2TextLLM:
    """Speech -> n-best text with a trained ESPnetSpeechLLMModel.

    Example:
        >>> s2t = Speech2TextLLM("exp/speechllm/config.yaml", "exp/speechllm/valid.acc.ave.pth")
        >>> s2t(speech)[0][0]   # 1-best text of a (S,) waveform

    Args:
        train_config: ``config.yaml`` written by training.
        model_file: Trained parameters (``*.pth``).
        device: ``cpu`` or ``cuda``.
        dtype: ``bfloat16`` / ``float16``: run the encoder and the LLM under autocast
            (LLM weights stored in it; fp32 where the CPU lacks native kernels).
        beam_size: 1 = greedy.
        nbest: Hypotheses returned per utterance.
        max_new_tokens: Hard cap on generated tokens.
        max_tokens_per_second: Cap tied to audio length (ceil(rate * seconds) + 4).
        min_new_tokens: Minimum generated tokens.
        no_repeat_ngram_size: Forbid repeating n-grams (0 = off).
        length_penalty: Exponent of the beam-score length normalisation.
        repetition_penalty: > 1 discourages repeated tokens.
        ctc_weight: Joint CTC/LLM decoding weight of the CTC compressor's head
            (0 = LLM only); see ``CTCPrefixLogitsProcessor``.
        ctc_pre_beam: LLM candidates per hypothesis that CTC rescores
            (0: ``max(4, int(1.5 * beam_size))``).
        prompt: Override the eval prompt stored in the model config.
        instruction: A chat-layout model's instruction (replaces model_conf.instruction;
            an utterance's own ``instruction`` data file still wins).
        resample: Resample audio at another rate than the model's (else refuse it).
        trim_silence_db: Cut the silence at each end of an utterance (frames this many
            dB below its loudest) down to ``trim_silence_keep`` (lead, trail) seconds
            before encoding (``utils/trim_silence.py``); None = off.
        empty_threshold: Decode to "" only where the LLM's first-step p(eos) is at
            least this, elsewhere never end at the first step
            (``EmptyThresholdProcessor``; see ``empty_probability``); None = off.

    An utterance whose prompt + audio + new tokens could exceed the LLM context is
    refused before it is encoded (``BadUtteranceError``, naming it and the longest
    audio that fits): the audio positions are bounded from the sample count
    (``model.max_audio_positions``; a CTC compressor counted as merging nothing).
    """

    @typechecked
    def __init__(
        self,
        train_config: Union[Path, str, None] = None,
        model_file: Union[Path, str, None] = None,
        device: str = "cpu",
        dtype: str = "float32",
        beam_size: int = 1,
        nbest: int = 1,
        max_new_tokens: int = 200,
        max_tokens_per_second: float = 10.0,
        min_new_tokens: int = 0,
        no_repeat_ngram_size: int = 0,
        length_penalty: float = 1.0,
        repetition_penalty: float = 1.0,
        ctc_weight: float = 0.0,
        ctc_pre_beam: int = 0,
        prompt: Optional[str] = None,
        instruction: Optional[str] = None,
        resample: bool = True,
        trim_silence_db: Optional[float] = None,
        trim_silence_keep: Union[str, Tuple[float, float]] = "0.0_0.3",
        empty_threshold: Optional[float] = None,
    ):
        model, train_args = SpeechLLMTask.build_model_from_file(
            train_config, model_file, device
        )
        # bf16 / fp16: the encoder and the LLM under autocast, the LLM's weights stored
        # in it; the rest (frontend, projector) and the scores stay fp32.
        low = autocast_dtype(None if dtype == "float32" else dtype, "--dtype")
        if low is not None:
            model.requires_grad_(False)  # nothing trains: every LLM weight is stored in it
            model.encoder_autocast = low
            model.decoder.set_low_precision(low)
        self.model = model.eval()
        self.train_args = train_args
        self.device = device
        self.fs = int((train_args.frontend_conf or {}).get("fs", 16000))
        self.tokenizer = model.decoder.tokenizer
        self.prompt = model.prompt.ids(prompt if prompt is not None else model.prompt.eval_prompt)
        self.nbest = nbest
        self.max_new_tokens = max_new_tokens
        self.max_tokens_per_second = max_tokens_per_second
        self.generate_kwargs = dict(
            num_beams=beam_size,
            nbest=nbest,
            min_new_tokens=min_new_tokens,
            no_repeat_ngram_size=no_repeat_ngram_size,
            length_penalty=length_penalty,
            repetition_penalty=repetition_penalty,
        )
        if not 0.0 <= ctc_weight <= 1.0:
            raise ValueError(f"--ctc_weight {ctc_weight} must be in [0, 1]")
        if ctc_weight > 0 and model.compressor.ctc_head is None:
            raise ValueError(
                f"--ctc_weight {ctc_weight} needs a model with a CTC head (compressor: ctc); "
                f"{train_config} uses {type(model.compressor).__name__}"
            )
        self.ctc_weight = ctc_weight
        self.ctc_pre_beam = ctc_pre_beam or max(4, int(1.5 * beam_size))
        self.context = model.decoder.context_length
        self.min_samples = self.model.min_input_samples(self.fs)
        if instruction is not None and model.layout is None:
            raise ValueError(
                f"--instruction needs a model trained with model_conf.chat_layout: true; "
                f"{train_config} uses model_conf.prompt (override it with --prompt)"
            )
        self.instruction = instruction
        self.eos = model.eos
        self.resample = resample
        if trim_silence_db is not None and trim_silence_db <= 0:
            raise ValueError(f"--trim_silence_db {trim_silence_db} must be > 0 (dB)")
        if isinstance(trim_silence_keep, str):  # the command line's / decode YAML's form
            trim_silence_keep = parse_keep(trim_silence_keep)
        self.trim_silence_db, self.trim_silence_keep = trim_silence_db, trim_silence_keep
        if empty_threshold is not None:
            EmptyThresholdProcessor(self.eos, empty_threshold)  # refuses a value outside (0, 1]
        self.empty_threshold = empty_threshold
        self.special_ids = set(self.tokenizer.all_special_ids)
        limit = self.max_seconds(sum(map(len, self.prompt)))
        if limit is not None and model.layout is None:
            logging.info(f"with the eval prompt, audio up to {limit:.1f} s fits the LLM context")

    @classmethod
    def from_pretrained(
        cls, path: Union[Path, str], unpack_dir: Union[Path, str, None] = None, **kwargs
    ) -> "Speech2TextLLM":
        """Build from a packed model: stage 14's ``.zip`` (or a tar), or its extracted
        directory (e.g. a Hugging Face snapshot of stage 15).

        An archive is checked before anything is written (no member or meta.yaml
        path outside ``unpack_dir``, no links; see ``pretrained/archive.py``) and
        extracted into ``unpack_dir`` (default: the archive's path without ``.zip``).

        Args:
            path: The archive or directory.
            unpack_dir: Where an archive is extracted.
            kwargs: ``Speech2TextLLM`` arguments (``beam_size``, ``device``, ...).
        """
        with packed_model(path, unpack_dir) as files:
            return cls(files["train_config"], files["model_file"], **kwargs)

    def prompts(
        self, fields: Sequence[Dict[str, str]], keys: Optional[Sequence[str]] = None
    ) -> List[Tuple[List[int], List[int]]]:
        """``(pre_ids, post_ids)`` per utterance: the chat layout's turn (as in training,
        with the utterance's ``instruction`` / ``history``), else the eval prompt."""
        if self.model.layout is None:
            return [self.prompt] * len(fields)
        if self.instruction is not None:
            fields = [dict(dict(instruction=self.instruction), **f) for f in fields]
        return self.model.layout.batch_audio_ids(len(fields), fields, keys)

    @torch.no_grad()
    def __call__(
        self, speech: Union[torch.Tensor, np.ndarray], fs: Optional[int] = None
    ) -> List[Hypothesis]:
        """N-best hypotheses of one utterance.  ``(S,) -> [(text, tokens, ids, score)]``"""
        return self.batch([speech], fs=fs)[0]

    @torch.no_grad()
    def batch(
        self,
        speeches: Sequence[Union[torch.Tensor, np.ndarray]],
        keys: Optional[Sequence[str]] = None,
        fields: Optional[Sequence[Dict[str, str]]] = None,
        fs: Optional[int] = None,
    ) -> List[List[Hypothesis]]:
        """Decode several utterances in one padded batch (same result as one by one).

        A waveform is ``(S,)``, or ``(S, C)`` / ``(C, S)`` (channels averaged), at
        ``fs`` Hz (default: the model's; another rate is resampled). Audio shorter
        than the encoder accepts gives ``nbest`` empty hypotheses.
        The frontend runs per utterance, the encoder on the batch where that is
        exact (see ``ESPnetSpeechLLMModel.encode_frames``); the LLM generates for
        all in one call, each capped at its own
        ``ceil(max_tokens_per_second * seconds) + 4`` new tokens. ``fields``: per
        utterance, its ``instruction`` / ``history`` (a chat-layout model's turn).

        Raises:
            BadUtteranceError: the first utterance with NaN / inf samples, another
                rate with ``resample=False``, or too long for the LLM context.
        """
        todo, dec, lens = self._prepare(speeches, keys, fields, fs, ctc=self.ctc_weight > 0)
        keys = self._keys(speeches, keys)
        results: List[List[Hypothesis]] = [[EMPTY] * self.nbest for _ in speeches]
        if not todo:
            return results
        kwargs = dict(self.generate_kwargs)
        procs = []
        if self.empty_threshold is not None:  # first: it reads the LLM's own p(eos)
            procs.append(EmptyThresholdProcessor(self.eos, self.empty_threshold))
        if dec.ctc_logp is not None:
            procs.append(self._ctc_scorer(dec.ctc_logp))
        if procs:
            kwargs["logits_processor"] = LogitsProcessorList(procs)
        caps = [self.token_cap(int(n)) for n in lens]
        hyps = self.model.decoder.generate(
            dec.prefix, dec.prefix_lens, max_new_tokens=caps, eos=self.eos, **kwargs
        )
        for j, nbest in enumerate(hyps):
            key = keys[todo[j]]
            if int(dec.audio_lens[j]) == 0:
                # The compressor kept nothing (e.g. all frames CTC blank).
                logging.info(f"{key}: no audio left after compression: empty hypothesis")
                continue
            results[todo[j]] = [self._hypothesis(ids, score, key) for ids, score in nbest]
        return results

    @torch.no_grad()
    def empty_probability(
        self,
        speeches: Sequence[Union[torch.Tensor, np.ndarray]],
        keys: Optional[Sequence[str]] = None,
        fields: Optional[Sequence[Dict[str, str]]] = None,
        fs: Optional[int] = None,
    ) -> List[float]:
        """Per utterance, the LLM's p(eos) at the first step: its probability of "".

        Arguments as ``batch``; audio too short to encode, or with no position left after
        compression, counts 1.0 (``batch`` gives it "").
        """
        todo, dec, _ = self._prepare(speeches, keys, fields, fs, ctc=False)
        probs = [1.0] * len(speeches)
        if not todo:
            return probs
        logits = self.model.decoder.next_token_logits(dec.prefix, dec.prefix_lens)
        p_eos = torch.softmax(logits.float(), dim=-1)[:, self.eos]
        for j, i in enumerate(todo):
            probs[i] = float(p_eos[j]) if int(dec.audio_lens[j]) > 0 else 1.0
        return probs

    @torch.no_grad()
    def text_log_probability(
        self, speeches: Sequence[Union[torch.Tensor, np.ndarray]], texts: Sequence[str],
        keys: Optional[Sequence[str]] = None, fields: Optional[Sequence[Dict[str, str]]] = None,
        fs: Optional[int] = None,
    ) -> List[float]:  # fmt: skip
        """Per utterance, log P(``text`` + end of turn | audio, prompt), teacher forced;
        arguments as ``batch``. Audio too short to encode: -inf."""
        todo, dec, _ = self._prepare(speeches, keys, fields, fs, ctc=False)
        scores = [-math.inf] * len(speeches)
        if not todo:
            return scores
        ids = [self.tokenizer(texts[i], add_special_tokens=False)["input_ids"] for i in todo]
        logp = self.model.decoder.text_log_prob(dec.prefix, dec.prefix_lens, ids, self.eos)
        for j, i in enumerate(todo):
            scores[i] = float(logp[j])
        return scores

    @staticmethod
    def _keys(speeches: Sequence, keys: Optional[Sequence[str]]) -> List[str]:
        return list(keys) if keys is not None else [str(i) for i in range(len(speeches))]

    def _prepare(
        self,
        speeches: Sequence[Union[torch.Tensor, np.ndarray]],
        keys: Optional[Sequence[str]],
        fields: Optional[Sequence[Dict[str, str]]],
        fs: Optional[int],
        ctc: bool,
    ) -> Tuple[List[int], Optional[DecodingInput], Optional[torch.Tensor]]:
        """``(indices of the utterances long enough to encode, their DecodingInput, their
        sample counts (N,))``; the others get "" (too short for the encoder)."""
        keys = self._keys(speeches, keys)
        wavs = [self._waveform(s, key, fs) for s, key in zip(speeches, keys)]
        todo = [i for i, w in enumerate(wavs) if w.numel() >= self.min_samples]
        for i in sorted(set(range(len(wavs))) - set(todo)):
            logging.warning(f"{keys[i]}: {wavs[i].numel()} samples, too short: empty hypothesis")
        if not todo:
            return todo, None, None
        prompts = self.prompts(
            [fields[i] if fields is not None else {} for i in todo], [keys[i] for i in todo]
        )
        for i, prompt in zip(todo, prompts):
            self._check_context(keys[i], wavs[i].numel(), prompt)
        lens = torch.tensor([wavs[i].numel() for i in todo], device=self.device)
        pad = torch.nn.utils.rnn.pad_sequence([wavs[i] for i in todo], batch_first=True)
        dtype = next(self.model.parameters()).dtype
        dec = self.model.prepare_decoding(
            pad.to(self.device, dtype), lens, prompts=prompts, ctc=ctc
        )
        return todo, dec, lens

    def max_seconds(self, n_prompt: int) -> Optional[float]:
        """Longest audio (s) that fits the LLM context after ``n_prompt`` prompt
        positions (with its token cap), by the bound of ``model.max_audio_positions``;
        None: the LLM has no context limit."""
        if self.context is None:
            return None
        lo, hi = 0, self.fs * 24 * 3600
        if self._fits(hi, n_prompt):
            return None
        while lo < hi:  # the last sample count that fits
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if self._fits(mid, n_prompt) else (lo, mid - 1)
        return lo / self.fs

    def _fits(self, n_samples: int, n_prompt: int) -> bool:
        need = n_prompt + self.model.max_audio_positions(n_samples) + self.token_cap(n_samples)
        return need <= self.context

    def _check_context(self, key: str, n_samples: int, prompt: Tuple[List[int], List[int]]):
        n_prompt = len(prompt[0]) + len(prompt[1])
        if self.context is None or self._fits(n_samples, n_prompt):
            return
        limit = self.max_seconds(n_prompt)
        raise BadUtteranceError(
            key,
            f"{key}: prompt ({n_prompt} positions) + {n_samples / self.fs:.2f} s of audio (up "
            f"to {self.model.max_audio_positions(n_samples)} positions) + "
            f"{self.token_cap(n_samples)} new tokens can exceed the LLM context of "
            f"{self.context}; with this prompt the model takes at most {limit:.2f} s of "
            "audio: split it (refused before encoding)",
        )

    def _waveform(self, speech, key: str, fs: Optional[int]) -> torch.Tensor:
        if isinstance(speech, torch.Tensor):
            speech = speech.detach().cpu().numpy()
        try:
            wav = to_model_input(speech, fs or self.fs, self.fs, key, self.resample)
        except AudioError as e:
            raise BadUtteranceError(key, str(e)) from e
        if self.trim_silence_db is not None:
            wav = trim_silence(wav, self.fs, self.trim_silence_db, self.trim_silence_keep)
        return torch.from_numpy(wav)

    def token_cap(self, n_samples: int) -> int:
        """Most new tokens for audio of ``n_samples``: ``ceil(rate * seconds) + 4``, capped."""
        return min(self.max_new_tokens, rate_cap(n_samples, self.fs, self.max_tokens_per_second))

    def _ctc_scorer(self, ctc_logp: List[torch.Tensor]) -> CTCPrefixLogitsProcessor:
        return CTCPrefixLogitsProcessor(
            ctc_logp,
            eos=self.eos,
            ctc_weight=self.ctc_weight,
            num_beams=self.generate_kwargs["num_beams"],
            pre_beam=self.ctc_pre_beam,
        )

    def _hypothesis(self, ids: List[int], score: float, key: str) -> Hypothesis:
        kept = [i for i in ids if i not in self.special_ids]
        if len(kept) < len(ids):  # e.g. <pad> after non-finite scores
            logging.warning(f"{key}: {len(ids) - len(kept)} special tokens dropped from a hypothesis")
            ids = kept
        tokens = self.tokenizer.convert_ids_to_tokens(ids)
        # One line: a chat response may hold newlines, which would break the Kaldi text file.
        text = one_line(self.tokenizer.decode(ids, skip_special_tokens=True))
        return Hypothesis(text, tokens, ids, score)
