#!/usr/bin/env python3
"""Noise and room-impulse-response lists for ESPnet's own augmentation, built offline.

::

    python "${MAIN_ROOT}/local/augment_lists.py" --out_dir data/augment --wav_dir downloads/augment \\
        [--num_noises 60] [--num_rirs 30] [--seed 0]

Writes ``<out_dir>/noise.scp`` (coloured noise, babble and music-like clips synthesised
with sox / espeak-ng, see nonspeech_signals.py; 4-10 s) and ``<out_dir>/rir.scp``
(synthetic room impulse responses: a unit direct path followed by a noise tail decaying
by 60 dB over RT60, RT60 uniform in 0.15-0.8 s, i.e. the exponentially decaying noise
model of a diffuse reverberant field). ESPnet's preprocessor (CommonPreprocessor) reads
both: train with them through ``speechllm.sh --speechllm_args "--noise_scp
data/augment/noise.scp --noise_apply_prob 0.5 --noise_db_range 5_20 --rir_scp
data/augment/rir.scp --rir_apply_prob 0.5"``; only training batches are augmented.
"""

import argparse
import random
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import soundfile

from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import write_map

# A neighbour in local/ (a script's own folder is on sys.path).
from nonspeech_signals import SAMPLE_RATE, synthesise

NOISE_KINDS = ("white", "pink", "brown", "babble", "music")


def synthetic_rir(rt60: float, rng: np.random.Generator, fs: int = SAMPLE_RATE) -> np.ndarray:
    """Direct path 1.0, then Gaussian noise * exp(-6.91 t / rt60) (-60 dB at rt60).  (n,)"""
    # Written here: no installed library synthesises RIRs (pyroomacoustics is not a
    # dependency), and this diffuse-tail model needs three lines of numpy.
    n = int(rt60 * fs)
    t = np.arange(n) / fs
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / rt60) * rng.uniform(0.2, 0.6)
    delay = int(rng.uniform(0.002, 0.01) * fs)  # first reflections after the direct path
    h = np.concatenate([[1.0], np.zeros(delay), tail])
    return (h / np.abs(h).max()).astype(np.float32)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out_dir", type=Path, required=True)
    p.add_argument("--wav_dir", type=Path, required=True)
    p.add_argument("--num_noises", type=int, default=60)
    p.add_argument("--num_rirs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    return p


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    rng = random.Random(args.seed)
    noises = {}
    for i in range(args.num_noises):
        kind = NOISE_KINDS[i % len(NOISE_KINDS)]
        key = f"noise_{kind}-{i:04d}"
        path = (args.wav_dir / "noise" / f"{key}.wav").absolute()
        synthesise(kind, path, round(rng.uniform(4, 10), 2), random.Random(f"{args.seed}:{key}"))
        noises[key] = str(path)
    rirs = {}
    np_rng = np.random.default_rng(args.seed)
    (args.wav_dir / "rir").mkdir(parents=True, exist_ok=True)
    for i in range(args.num_rirs):
        rt60 = float(np_rng.uniform(0.15, 0.8))
        key = f"rir-rt{int(rt60 * 1000):03d}-{i:04d}"
        path = (args.wav_dir / "rir" / f"{key}.wav").absolute()
        soundfile.write(path, synthetic_rir(rt60, np_rng), SAMPLE_RATE, subtype="FLOAT")
        rirs[key] = str(path)
    write_map(args.out_dir / "noise.scp", noises)
    write_map(args.out_dir / "rir.scp", rirs)
    print(f"{args.out_dir}: noise.scp ({len(noises)} clips), rir.scp ({len(rirs)} RIRs)")


if __name__ == "__main__":
    main()
