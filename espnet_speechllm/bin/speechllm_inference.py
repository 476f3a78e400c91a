#!/usr/bin/env python3
"""Decode speech with a trained speech-LLM into ESPnet's ``Nbest_recog`` layout."""

import argparse
import logging
import math
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from transformers import LogitsProcessorList
from typeguard import typechecked

from espnet2.fileio.datadir_writer import DatadirWriter
from espnet2.torch_utils.set_all_random_seed import set_all_random_seed
from espnet2.utils import config_argparse
from espnet2.utils.types import str2triple_str, str_or_none
from espnet_speechllm.asr.generation.ctc_prefix_logits_processor import CTCPrefixLogitsProcessor
from espnet_speechllm.asr.prompt_fields import fields_of
from espnet_speechllm.pretrained.archive import packed_model
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.low_precision import autocast_dtype



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
    def __call__(self, speech: Union[torch.Tensor, np.ndarray]) -> List[Hypothesis]:
        """N-best hypotheses of one utterance.  ``(S,) -> [(text, tokens, ids, score)]``"""
        return self.batch([speech])[0]

    @torch.no_grad()
    def batch(
        self,
        speeches: Sequence[Union[torch.Tensor, np.ndarray]],
        keys: Optional[Sequence[str]] = None,
        fields: Optional[Sequence[Dict[str, str]]] = None,
    ) -> List[List[Hypothesis]]:
        """Decode several utterances in one padded batch (same result as one by one).

        Audio shorter than the encoder accepts gives ``nbest`` empty hypotheses.
        The frontend runs per utterance, the encoder on the batch where that is
        exact (see ``ESPnetSpeechLLMModel.encode_frames``); the LLM generates for
        all in one call, each capped at its own
        ``ceil(max_tokens_per_second * seconds) + 4`` new tokens. ``fields``: per
        utterance, its ``instruction`` / ``history`` (a chat-layout model's turn).
        """
        keys = list(keys) if keys is not None else [str(i) for i in range(len(speeches))]
        wavs = [torch.as_tensor(s, dtype=torch.float32).reshape(-1) for s in speeches]
        results: List[List[Hypothesis]] = [[EMPTY] * self.nbest for _ in wavs]
        todo = [i for i, w in enumerate(wavs) if w.numel() >= self.min_samples]
        for i in sorted(set(range(len(wavs))) - set(todo)):
            logging.warning(f"{keys[i]}: {wavs[i].numel()} samples, too short: empty hypothesis")
        if not todo:
            return results
        lens = torch.tensor([wavs[i].numel() for i in todo], device=self.device)
        pad = torch.nn.utils.rnn.pad_sequence([wavs[i] for i in todo], batch_first=True)
        dtype = next(self.model.parameters()).dtype
        dec = self.model.prepare_decoding(
            pad.to(self.device, dtype),
            lens,
            prompts=self.prompts(
                [fields[i] if fields is not None else {} for i in todo], [keys[i] for i in todo]
            ),
            ctc=self.ctc_weight > 0,
        )
        caps = [self.token_cap(int(n)) for n in lens]
        for j, i in enumerate(todo):
            if self.context is not None and int(dec.prefix_lens[j]) + caps[j] > self.context:
                raise ValueError(
                    f"{keys[i]}: prompt + audio ({int(dec.prefix_lens[j])} positions) + "
                    f"{caps[j]} new tokens exceed the LLM context of {self.context}; "
                    "use a stronger compressor or split the audio"
                )
        kwargs = dict(self.generate_kwargs)
        if dec.ctc_logp is not None:
            kwargs["logits_processor"] = self._ctc_scorer(dec.ctc_logp)
        hyps = self.model.decoder.generate(
            dec.prefix, dec.prefix_lens, max_new_tokens=caps, eos=self.eos, **kwargs
        )
        for j, nbest in enumerate(hyps):
            if int(dec.audio_lens[j]) == 0:
                # The compressor kept nothing (e.g. all frames CTC blank).
                logging.info(f"{keys[todo[j]]}: no audio left after compression: empty hypothesis")
                continue
            results[todo[j]] = [self._hypothesis(ids, score) for ids, score in nbest]
        return results

    def token_cap(self, n_samples: int) -> int:
        """Most new tokens for audio of ``n_samples``: ``ceil(rate * seconds) + 4``, capped."""
        return min(
            self.max_new_tokens, math.ceil(self.max_tokens_per_second * n_samples / self.fs) + 4
        )

    def _ctc_scorer(self, ctc_logp: List[torch.Tensor]) -> LogitsProcessorList:
        return LogitsProcessorList(
            [
                CTCPrefixLogitsProcessor(
                    ctc_logp,
                    eos=self.eos,
                    ctc_weight=self.ctc_weight,
                    num_beams=self.generate_kwargs["num_beams"],
                    pre_beam=self.ctc_pre_beam,
                )
            ]
        )

    def _hypothesis(self, ids: List[int], score: float) -> Hypothesis:
        tokens = self.tokenizer.convert_ids_to_tokens(ids)
        text = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
        return Hypothesis(text, tokens, ids, score)


@typechecked
def inference(
    output_dir: str,
    data_path_and_name_and_type: Sequence[Tuple[str, str, str]],
    train_config: Optional[str],
    model_file: Optional[str],
    key_file: Optional[str] = None,
    batch_size: int = 1,
    ngpu: int = 0,
    seed: int = 0,
    num_workers: int = 1,
    dtype: str = "float32",
    **kwargs,
) -> None:
    """Decode a data set; writes ``output_dir/{N}best_recog/{text,token,token_int,score}``."""
    set_all_random_seed(seed)
    device = "cuda" if ngpu > 0 else "cpu"
    s2t = Speech2TextLLM(train_config, model_file, device=device, dtype=dtype, **kwargs)
    loader = SpeechLLMTask.build_streaming_iterator(
        data_path_and_name_and_type,
        dtype="float32",
        batch_size=batch_size,
        key_file=key_file,
        num_workers=num_workers,
        preprocess_fn=SpeechLLMTask.build_preprocess_fn(s2t.train_args, False),
        collate_fn=SpeechLLMTask.build_collate_fn(s2t.train_args, False),
        inference=True,
    )
    n_done = 0
    with DatadirWriter(output_dir) as writer:
        for keys, batch in loader:
            speech, lens = batch["speech"], batch["speech_lengths"]
            wavs = [speech[i, : lens[i]] for i in range(len(keys))]
            # instruction / history data files (chat layout): --data_path_and_name_and_type
            # dump/raw/test/history,history,text
            fields = fields_of(batch)
            for key, hyps in zip(keys, s2t.batch(wavs, keys, fields)):
                for n, (text, tokens, ids, score) in enumerate(hyps, 1):
                    w = writer[f"{n}best_recog"]
                    w["text"][key] = text
                    w["token"][key] = " ".join(tokens)
                    w["token_int"][key] = " ".join(map(str, ids))
                    w["score"][key] = str(score)
            n_done += len(keys)
            logging.info(f"decoded {n_done} utterances")


def get_parser() -> argparse.ArgumentParser:
    parser = config_argparse.ArgumentParser(
        description="Speech-LLM decoding", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--log_level", default="INFO", choices=["ERROR", "WARNING", "INFO", "DEBUG"])
    parser.add_argument("--output_dir", type=str, required=True)
    parser.add_argument("--ngpu", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="float32", choices=["float16", "bfloat16", "float32"])
    parser.add_argument("--num_workers", type=int, default=1)
    group = parser.add_argument_group("Input data related")
    group.add_argument("--data_path_and_name_and_type", type=str2triple_str, required=True, action="append")
    group.add_argument("--key_file", type=str_or_none)
    group.add_argument("--batch_size", type=int, default=1)
    group = parser.add_argument_group("The model configuration related")
    group.add_argument("--train_config", type=str, help="config.yaml of the trained model")
    group.add_argument("--model_file", type=str, help="Trained parameters (*.pth)")
    group = parser.add_argument_group("Decoding related")
    group.add_argument("--beam_size", type=int, default=1)
    group.add_argument("--nbest", type=int, default=1)
    group.add_argument("--max_new_tokens", type=int, default=200)
    group.add_argument("--max_tokens_per_second", type=float, default=10.0)
    group.add_argument("--min_new_tokens", type=int, default=0)
    group.add_argument("--no_repeat_ngram_size", type=int, default=0)
    group.add_argument("--length_penalty", type=float, default=1.0)
    group.add_argument("--repetition_penalty", type=float, default=1.0)
    group.add_argument("--ctc_weight", type=float, default=0.0, help="Joint CTC/LLM weight")
    group.add_argument("--ctc_pre_beam", type=int, default=0, help="LLM candidates CTC rescores")
    group.add_argument("--prompt", type=str_or_none, default=None, help="Override the eval prompt")
    group.add_argument(
        "--instruction",
        type=str_or_none,
        default=None,
        help="Chat-layout models: replaces model_conf.instruction (an instruction data file wins)",
    )
    return parser


def main(cmd=None) -> None:
    kwargs = vars(parse_args(get_parser(), cmd))  # command line to stderr, ESPnet's log format
    kwargs.pop("config", None)
    kwargs.pop("log_level")
    inference(**kwargs)


if __name__ == "__main__":
    main()
