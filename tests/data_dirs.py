"""Tiny Kaldi data dirs with sine-wave audio, written into tmp_path (fixtures: the conftest.py
files of tests/recipe and tests/egs2 import them)."""

from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import pytest
import soundfile


def write_sine(path: Path, n: int, fs: int = 16000, channels: int = 1) -> np.ndarray:
    """Write an n-sample 16-bit sine wav; returns its int16 samples, (n,) or (n, C)."""
    t = np.arange(n) / fs
    x = np.stack(
        [0.3 * np.sin(2 * np.pi * 220 * (c + 1) * t) for c in range(channels)], 1
    )
    pcm = np.round(x * 32767).astype(np.int16)
    soundfile.write(path, pcm, fs, subtype="PCM_16")
    return pcm[:, 0] if channels == 1 else pcm


@pytest.fixture
def sine_wav() -> Callable[..., np.ndarray]:
    """write_sine as a fixture (tests cannot import from a conftest)."""
    return write_sine


# utt id -> (transcript, speaker, number of samples at 16 kHz)
UttSpec = Dict[str, Tuple[str, str, int]]


@pytest.fixture
def make_data_dir(tmp_path: Path) -> Callable[..., Path]:
    """Factory: make_data_dir(utts, name) writes wavs and a full data dir."""

    def make(utts: UttSpec, name: str = "data", wav_dir: Optional[Path] = None) -> Path:
        d = tmp_path / name
        wavs = wav_dir or tmp_path / f"{name}_wav"
        d.mkdir(parents=True)
        wavs.mkdir(parents=True, exist_ok=True)
        spk2utt: Dict[str, list] = {}
        with open(d / "wav.scp", "w") as scp, open(d / "text", "w") as text, open(
            d / "utt2spk", "w"
        ) as u2s:
            for utt in sorted(utts):
                words, spk, n = utts[utt]
                write_sine(wavs / f"{utt}.wav", n)
                scp.write(f"{utt} {wavs / f'{utt}.wav'}\n")
                text.write(f"{utt} {words}\n")
                u2s.write(f"{utt} {spk}\n")
                spk2utt.setdefault(spk, []).append(utt)
        with open(d / "spk2utt", "w") as f:
            for spk in sorted(spk2utt):
                f.write(f"{spk} {' '.join(spk2utt[spk])}\n")
        return d

    return make
