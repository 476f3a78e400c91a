#!/usr/bin/env python3
"""Decode speech with a trained speech-LLM into ESPnet's ``Nbest_recog`` layout."""

import argparse
import logging
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from typeguard import typechecked

from espnet2.fileio.datadir_writer import DatadirWriter
from espnet2.torch_utils.set_all_random_seed import set_all_random_seed
from espnet2.utils import config_argparse
from espnet2.utils.types import str2bool, str2triple_str, str_or_none
from espnet_speechllm.asr.prompt_fields import fields_of
from espnet_speechllm.bin.speech2text_llm import (  # noqa: F401 (the API, also from here)
    EMPTY,
    BadUtteranceError,
    Hypothesis,
    Speech2TextLLM,
)
from espnet_speechllm.bin.speech2text_llm_streaming import Speech2TextLLMStreaming
from espnet_speechllm.tasks.speechllm import SpeechLLMTask
from espnet_speechllm.train.decode_dataset import DecodeBatch, DecodeCollate, DecodeDataset
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import write_map


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
    on_bad_utt: str = "fail",
    streaming: bool = False,
    chunk_ms: float = 640.0,
    unstable_tokens: int = 2,
    **kwargs,
) -> None:
    """Decode a data set; writes ``output_dir/{N}best_recog/{text,token,token_int,score}``.

    An utterance that cannot be decoded (missing / unreadable audio, NaN samples,
    too long for the LLM context, ...) raises ``BadUtteranceError`` naming it
    (``on_bad_utt="fail"``; what was decoded before is written), or gets empty
    hypotheses and a line ``utt reason`` in ``output_dir/bad_utts.txt``
    (``on_bad_utt="skip"``). ``streaming``: each utterance is fed in chunks of
    ``chunk_ms`` to ``Speech2TextLLMStreaming`` (the model must stream), which writes
    its final hypotheses.
    """
    if on_bad_utt not in ("fail", "skip"):
        raise ValueError(f"--on_bad_utt {on_bad_utt}: expected fail or skip")
    set_all_random_seed(seed)
    device = "cuda" if ngpu > 0 else "cpu"
    if streaming:
        if batch_size != 1:
            raise ValueError(f"--streaming true decodes one utterance at a time: --batch_size 1, got {batch_size}")
        s2t = Speech2TextLLMStreaming(
            train_config, model_file, unstable_tokens=unstable_tokens, device=device, dtype=dtype, **kwargs
        )
        s2t.chunk_samples(chunk_ms)  # checks it
    else:
        s2t = Speech2TextLLM(train_config, model_file, device=device, dtype=dtype, **kwargs)
    loader = decode_loader(s2t, data_path_and_name_and_type, key_file, batch_size, num_workers)
    bad: Dict[str, str] = {}
    n_done = 0
    with DatadirWriter(output_dir) as writer:
        for item in loader:
            if streaming:
                hyps = _decode_streaming(s2t, item, chunk_ms, on_bad_utt == "skip", bad)
            else:
                hyps = _decode(s2t, item, on_bad_utt == "skip", bad)
            for key in item.keys:  # file order; a bad utterance: empty hypotheses
                nbest = hyps.get(key, [EMPTY] * s2t.nbest)
                for n, (text, tokens, ids, score) in enumerate(nbest, 1):
                    w = writer[f"{n}best_recog"]
                    w["text"][key] = text
                    w["token"][key] = " ".join(tokens)
                    w["token_int"][key] = " ".join(map(str, ids))
                    w["score"][key] = str(score)
            n_done += len(item.keys)
            logging.info(f"decoded {n_done} utterances")
    if on_bad_utt == "skip":
        write_map(Path(output_dir) / "bad_utts.txt", bad)
        if bad:
            logging.warning(f"{len(bad)} utterances skipped: {Path(output_dir) / 'bad_utts.txt'}")


def decode_loader(
    s2t: Speech2TextLLM,
    data_path_and_name_and_type: Sequence[Tuple[str, str, str]],
    key_file: Optional[str],
    batch_size: int,
    num_workers: int,
) -> torch.utils.data.DataLoader:
    """``DecodeBatch``es of a data set, read with the model's own preprocessing."""
    dataset = DecodeDataset(
        data_path_and_name_and_type,
        s2t.fs,
        SpeechLLMTask.build_preprocess_fn(s2t.train_args, False),
        key_file,
        allow_resample=s2t.resample,
    )
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=DecodeCollate(SpeechLLMTask.build_collate_fn(s2t.train_args, False)),
    )


def _decode(
    s2t: Speech2TextLLM, item: DecodeBatch, skip: bool, bad: Dict[str, str]
) -> Dict[str, List[Hypothesis]]:
    """Hypotheses of the good utterances of a batch; the bad ones raise or go to ``bad``."""
    for key, reason in item.bad.items():
        if not skip:
            raise BadUtteranceError(key, reason)
        bad[key] = reason
    keys = list(item.good_keys)
    if not keys:
        return {}
    speech, lens = item.batch["speech"], item.batch["speech_lengths"]
    wavs = {key: speech[i, : lens[i]] for i, key in enumerate(keys)}
    # instruction / history data files (chat layout): --data_path_and_name_and_type
    # dump/raw/test/history,history,text
    fields = fields_of(item.batch)
    fields = {key: fields[i] for i, key in enumerate(keys)} if fields is not None else None
    while keys:  # each refusal of s2t.batch takes its utterance out
        try:
            hyps = s2t.batch(
                [wavs[k] for k in keys], keys, [fields[k] for k in keys] if fields else None
            )
            return dict(zip(keys, hyps))
        except BadUtteranceError as e:
            if not skip:
                raise
            logging.warning(f"{e}; skipped")
            bad[e.key] = str(e)
            keys.remove(e.key)
    return {}


def _decode_streaming(
    s2t: Speech2TextLLMStreaming, item: DecodeBatch, chunk_ms: float, skip: bool, bad: Dict[str, str]
) -> Dict[str, List[Hypothesis]]:
    """Final hypotheses of each good utterance fed chunk by chunk (no chat fields)."""
    for key, reason in item.bad.items():
        if not skip:
            raise BadUtteranceError(key, reason)
        bad[key] = reason
    speech, lens = item.batch["speech"], item.batch["speech_lengths"]
    return {
        key: s2t.decode_chunked(speech[i, : lens[i]], chunk_ms)[0]
        for i, key in enumerate(item.good_keys)
    }


def get_parser() -> argparse.ArgumentParser:
    parser = config_argparse.ArgumentParser(
        description="Speech-LLM decoding. Stereo audio is downmixed to mono, other rates "
        "resampled (--resample). An utterance whose prompt + audio + new tokens could "
        "exceed the LLM context is refused before it is encoded, naming it and the "
        "longest audio that fits (audio positions bounded from the sample count; a CTC "
        "compressor counted as merging nothing): split long recordings.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--log_level", default="INFO", choices=["ERROR", "WARNING", "INFO", "DEBUG"],
                        help="Logging level (to stderr)")
    parser.add_argument("--output_dir", type=str, required=True,
                        help="Writes <dir>/{N}best_recog/{text,token,token_int,score}, N = 1..nbest")
    parser.add_argument("--ngpu", type=int, default=0, help="0: CPU, 1: decode on one GPU")
    parser.add_argument("--seed", type=int, default=0, help="Random seed (sampling-free decoding is deterministic)")
    parser.add_argument("--dtype", default="float32", choices=["float16", "bfloat16", "float32"],
                        help="bfloat16/float16: encoder and LLM under autocast, LLM weights in it")
    parser.add_argument("--num_workers", type=int, default=1, help="Data-loader worker processes")
    group = parser.add_argument_group("Input data related")
    group.add_argument("--data_path_and_name_and_type", type=str2triple_str, required=True, action="append",
                       help="PATH,NAME,TYPE, e.g. dump/raw/test/wav.scp,speech,sound; repeat for "
                       "per-utterance fields (instruction, history: PATH,instruction,text)")
    group.add_argument("--key_file", type=str_or_none,
                       help="Decode only the utterance ids in the first column of this file")
    group.add_argument("--batch_size", type=int, default=1,
                       help="Utterances per generate() call (padding-exact: same 1-best as 1)")
    group.add_argument(
        "--on_bad_utt",
        default="fail",
        choices=["fail", "skip"],
        help="An utterance that cannot be decoded (missing or unreadable audio, NaN / inf "
        "samples, another rate with --resample false, too long for the LLM context): fail "
        "naming it, or skip it: empty hypotheses and a line in <output_dir>/bad_utts.txt",
    )
    group.add_argument(
        "--resample",
        type=str2bool,
        default=True,
        help="Resample audio at another rate than the model's (with a warning), else refuse it",
    )
    group.add_argument(
        "--trim_silence_db",
        type=float,
        default=None,
        help="Cut the silence at each end of an utterance (frames this many dB below its "
        "loudest, e.g. 35) down to --trim_silence_keep before encoding; default: off",
    )
    group.add_argument(
        "--trim_silence_keep",
        type=str,
        default="0.0_0.3",
        help="<lead>_<trail>: seconds of silence that --trim_silence_db keeps before / after "
        "the speech (as in the training audio; espeak-ng: 0.0_0.3)",
    )
    group = parser.add_argument_group("The model configuration related")
    group.add_argument("--train_config", type=str, help="config.yaml of the trained model")
    group.add_argument("--model_file", type=str, help="Trained parameters (*.pth)")
    group = parser.add_argument_group("Streaming related")
    group.add_argument("--streaming", type=str2bool, default=False,
                       help="Decode online, chunk by chunk (Speech2TextLLMStreaming; needs a streaming "
                       "encoder: encoder contextual_block_conformer); writes the final hypotheses")
    group.add_argument("--chunk_ms", type=float, default=640.0, help="--streaming: chunk length (ms)")
    group.add_argument("--unstable_tokens", type=int, default=2,
                       help="--streaming: last tokens of each partial that the next chunk re-decodes")
    group = parser.add_argument_group("Decoding related")
    group.add_argument("--beam_size", type=int, default=1, help="Beam width; 1 = greedy")
    group.add_argument("--nbest", type=int, default=1, help="Hypotheses written per utterance (<= beam_size)")
    group.add_argument("--max_new_tokens", type=int, default=200, help="Hard cap on generated tokens")
    group.add_argument("--max_tokens_per_second", type=float, default=10.0,
                       help="Cap tied to the audio: ceil(rate * seconds) + 4 tokens (stops runaway output)")
    group.add_argument("--min_new_tokens", type=int, default=0, help="Minimum generated tokens")
    group.add_argument("--no_repeat_ngram_size", type=int, default=0, help="Forbid repeating n-grams; 0 = off")
    group.add_argument("--length_penalty", type=float, default=1.0,
                       help="Exponent of the beam score's length normalisation (> 1 favours longer)")
    group.add_argument("--repetition_penalty", type=float, default=1.0, help="> 1 discourages repeated tokens")
    group.add_argument("--empty_threshold", type=float, default=None,
                       help="Decode to \"\" only where the LLM's first-step p(eos) is at least this, else "
                       "never end at the first step; set it on held-out non-speech with "
                       "speechllm_empty_threshold.py; default: off")
    group.add_argument("--ctc_weight", type=float, default=0.0,
                       help="Joint CTC/LLM decoding weight (models with a CTC compressor); 0 = LLM only")
    group.add_argument("--ctc_pre_beam", type=int, default=0,
                       help="LLM candidates per hypothesis that the CTC prefix score rescores")
    group.add_argument("--prompt", type=str_or_none, default=None,
                       help="Replace the eval prompt of the model (model_conf.eval_prompt, else its first prompt)")
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
