#!/usr/bin/env python3
"""Set ``--empty_threshold`` on held-out non-speech: the p("") that keeps a share of it "".

::

    python -m espnet_speechllm.bin.speechllm_empty_threshold \\
        --train_config exp/<model>/config.yaml --model_file exp/<model>/valid.acc.ave.pth \\
        --data_path_and_name_and_type dump/raw/dev_nonspeech/wav.scp,speech,sound \\
        --empty_rate 0.98 --output_dir exp/<model>/empty_threshold_dev_nonspeech

For each utterance of the set (non-speech only: noise, music, ...; never a test set) it
computes the LLM's first-step p(eos) (``Speech2TextLLM.empty_probability``) and writes
``<output_dir>/p_empty`` (``<utt> <p>``) and ``<output_dir>/empty_threshold``: the largest
threshold at which at least ``--empty_rate`` of the set decodes to "" under
``speechllm_inference.py --empty_threshold``. Speech is then emptied only where the LLM is
as sure as it is on that share of the non-speech it was calibrated on. ``--empty_rate none`` writes
``p_empty`` only, for any set (e.g. the speech and test sets of ``recipe/empty_gate.py``).
"""

import argparse
import logging
import math
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from typeguard import typechecked

from espnet2.utils import config_argparse
from espnet2.utils.types import float_or_none, str2triple_str, str_or_none
from espnet_speechllm.asr.prompt_fields import fields_of
from espnet_speechllm.bin.speech2text_llm import BadUtteranceError, Speech2TextLLM
from espnet_speechllm.bin.speechllm_inference import decode_loader
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import write_map


def threshold_for_rate(probs: Sequence[float], rate: float) -> float:
    """Just below the largest t with ``share(p >= t) >= rate``: ``t * (1 - 1e-4)``, so that
    the float noise of another batch composition at decoding cannot lose the clip at t."""
    if not probs:
        raise ValueError("no utterances to set the threshold on")
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"--empty_rate {rate} must be in (0, 1]")
    ranked = sorted(probs, reverse=True)
    t = ranked[math.ceil(rate * len(ranked) - 1e-9) - 1]
    if t <= 0.0:
        raise ValueError(
            f"--empty_rate {rate} needs a clip with p(eos) = 0 decoded to \"\" (an LLM that "
            "cannot end at the first step, e.g. min_new_tokens > 0): no threshold does that"
        )
    return t * (1.0 - 1e-4)


@typechecked
def empty_threshold(
    output_dir: str,
    data_path_and_name_and_type: Sequence[Tuple[str, str, str]],
    train_config: Optional[str],
    model_file: Optional[str],
    empty_rate: Optional[float] = 0.98,
    key_file: Optional[str] = None,
    batch_size: int = 8,
    ngpu: int = 0,
    num_workers: int = 1,
) -> Optional[float]:
    """Write ``output_dir/{p_empty,empty_threshold}``; return the threshold (``empty_rate=None``:
    ``p_empty`` only, returns ``None``)."""
    if empty_rate is not None and not 0.0 < empty_rate <= 1.0:
        raise ValueError(f"--empty_rate {empty_rate} must be in (0, 1]")
    s2t = Speech2TextLLM(train_config, model_file, device="cuda" if ngpu > 0 else "cpu")
    loader = decode_loader(s2t, data_path_and_name_and_type, key_file, batch_size, num_workers)
    probs: Dict[str, float] = {}
    for item in loader:
        for key, reason in item.bad.items():
            raise BadUtteranceError(key, reason)
        speech, lens = item.batch["speech"], item.batch["speech_lengths"]
        fields = fields_of(item.batch)
        keys = list(item.good_keys)
        p = s2t.empty_probability([speech[i, : lens[i]] for i in range(len(keys))], keys, fields)
        probs.update(zip(keys, p))
    out = Path(output_dir)
    write_map(out / "p_empty", {k: f"{v:.4f}" for k, v in probs.items()})
    ranked = sorted(probs.values())
    summary = (f"{len(ranked)} utterances, p(empty) min {ranked[0]:.3f} median "
               f"{ranked[len(ranked) // 2]:.3f} max {ranked[-1]:.3f}")
    if empty_rate is None:
        logging.info(f"{summary}: {out}/p_empty")
        return None
    t = threshold_for_rate(ranked, empty_rate)
    (out / "empty_threshold").write_text(f"{t!r}\n")  # repr: read back exactly
    logging.info(
        f"{summary}: --empty_threshold {t} keeps "
        f"{sum(v >= t for v in ranked)} of them \"\" (--empty_rate {empty_rate}); {out}/empty_threshold"
    )
    return t


def get_parser() -> argparse.ArgumentParser:
    parser = config_argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--log_level", default="INFO", choices=["ERROR", "WARNING", "INFO", "DEBUG"])
    parser.add_argument("--output_dir", type=str, required=True,
                        help="Writes <dir>/p_empty and <dir>/empty_threshold")
    parser.add_argument("--train_config", type=str, help="config.yaml of the trained model")
    parser.add_argument("--model_file", type=str, help="Trained parameters (*.pth)")
    parser.add_argument("--data_path_and_name_and_type", type=str2triple_str, required=True,
                        action="append", help="PATH,NAME,TYPE of a held-out non-speech set, as for "
                        "speechllm_inference.py (add its instruction file for a hint model)")
    parser.add_argument("--empty_rate", type=float_or_none, default=0.98,
                        help="Share of the set that the threshold must keep \"\"; none: write p_empty only")
    parser.add_argument("--key_file", type=str_or_none, help="Only these utterance ids")
    parser.add_argument("--batch_size", type=int, default=8, help="Utterances per LLM pass")
    parser.add_argument("--ngpu", type=int, default=0, help="0: CPU, 1: one GPU")
    parser.add_argument("--num_workers", type=int, default=1, help="Data-loader worker processes")
    return parser


def main(cmd=None) -> None:
    kwargs = vars(parse_args(get_parser(), cmd))
    kwargs.pop("config", None)
    kwargs.pop("log_level")
    empty_threshold(**kwargs)


if __name__ == "__main__":
    main()
