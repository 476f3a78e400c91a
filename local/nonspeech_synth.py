#!/usr/bin/env python3
"""Write a non-speech Kaldi data dir: noise, tones, music-like and babble-like signals.

::

    python "${MAIN_ROOT}/local/nonspeech_synth.py" --data_dir data/train_nonspeech \\
        --wav_dir downloads/nonspeech/train --num_utts 400 --seed 1 \\
        --kinds white,pink,tone,music,babble [--nj 2] [--min_sec 1] [--max_sec 6]

Every transcript is ``<nospeech>`` (espnet_speechllm.utils.nonspeech): the preprocessor
maps it to zero tokens, so the model learns to answer non-speech with eos alone (arXiv
2406.17272, Sec. 3.3). Kinds are dealt round-robin; a kind is a speaker
(``nonspeech_<kind>``), utt ids are ``nonspeech_<kind>-s<seed>-<index>``. The same
arguments give the same wavs (see nonspeech_signals.py). Writes ``wav.scp text utt2spk
spk2utt utt2dur``.
"""

import argparse
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.nonspeech import NONSPEECH_MARKER

# Neighbours in local/ (a script's own folder is on sys.path).
from espeak_synth import write_data_dir
from nonspeech_signals import KINDS, synthesise

Job = Tuple[str, str, Path, float, str]  # utt, kind, wav, seconds, rng seed


def plan(kinds: Sequence[str], num_utts: int, seed: int, wav_dir: Path,
         min_sec: float, max_sec: float) -> List[Job]:
    """One job per utterance, kinds round-robin, durations uniform in [min_sec, max_sec]."""
    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise ValueError(f"--kinds {','.join(kinds)}: expected some of {','.join(KINDS)}")
    if not 0 < min_sec <= max_sec:
        raise ValueError(f"need 0 < --min_sec ({min_sec}) <= --max_sec ({max_sec})")
    rng = random.Random(seed)
    jobs = []
    for i in range(num_utts):
        kind = kinds[i % len(kinds)]
        utt = f"nonspeech_{kind}-s{seed}-{i:05d}"
        seconds = round(rng.uniform(min_sec, max_sec), 2)
        jobs.append((utt, kind, wav_dir / f"{utt}.wav", seconds, f"{seed}:{utt}"))
    return jobs


def _run(job: Job) -> None:
    _, kind, wav, seconds, rng_seed = job
    synthesise(kind, wav, seconds, random.Random(rng_seed))


def write_nonspeech_dir(jobs: Sequence[Job], data_dir: Path) -> None:
    """The data dir of synthesised jobs: transcript ``<nospeech>``, speaker = kind."""
    write_data_dir(
        data_dir,
        wavs={utt: wav for utt, _, wav, _, _ in jobs},
        texts={utt: NONSPEECH_MARKER for utt, _, _, _, _ in jobs},
        utt2spk={utt: f"nonspeech_{kind}" for utt, kind, _, _, _ in jobs},
    )


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data_dir", type=Path, required=True)
    p.add_argument("--wav_dir", type=Path, required=True)
    p.add_argument("--num_utts", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kinds", default=",".join(KINDS), help="comma-separated")
    p.add_argument("--min_sec", type=float, default=1.0)
    p.add_argument("--max_sec", type=float, default=6.0)
    p.add_argument("--nj", type=int, default=1)
    return p


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    kinds = [k for k in args.kinds.split(",") if k]
    jobs = plan(kinds, args.num_utts, args.seed, args.wav_dir, args.min_sec, args.max_sec)
    args.wav_dir.mkdir(parents=True, exist_ok=True)
    # Threads suffice: the work happens in the sox / espeak-ng subprocesses.
    with ThreadPoolExecutor(max(1, args.nj)) as pool:
        list(pool.map(_run, jobs))
    write_nonspeech_dir(jobs, args.data_dir)
    print(f"{args.data_dir}: {len(jobs)} non-speech utts ({','.join(kinds)}), seed {args.seed}")


if __name__ == "__main__":
    main()
