"""Tiny Kaldi data dirs with sine-wave audio, written into tmp_path (fixtures: the conftest.py
files of tests/recipe and tests/egs2 import them)."""

from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import pytest
import soundfile

from espnet_speechllm.utils.kaldi_io import write_map


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


@pytest.fixture
def segmented_dir(tmp_path: Path) -> Tuple[Path, np.ndarray, np.ndarray]:
    """Two recordings (2 s and 1 s at 16 kHz), four segments: two of rec1, one of rec2
    to its end (-1), one past rec2's end; plus a segment of a recording without audio."""
    d = tmp_path / "seg"
    d.mkdir()
    rec1 = write_sine(tmp_path / "rec1.wav", 32000)
    rec2 = write_sine(tmp_path / "rec2.wav", 16000)
    write_map(d / "wav.scp", {"rec1": str(tmp_path / "rec1.wav"), "rec2": str(tmp_path / "rec2.wav")})
    write_map(d / "segments", {
        "spk1-a": "rec1 0.00 0.50", "spk1-b": "rec1 1.25 2.00", "spk2-c": "rec2 0.5 -1",
        "spk2-d": "rec2 1.5 1.9", "spk3-e": "rec9 0 1",
    })  # fmt: skip
    utts = ["spk1-a", "spk1-b", "spk2-c", "spk2-d", "spk3-e"]
    write_map(d / "text", {u: f"WORDS OF {u}" for u in utts})
    write_map(d / "utt2spk", {u: u.split("-")[0] for u in utts})
    write_map(d / "spk2utt", {"spk1": "spk1-a spk1-b", "spk2": "spk2-c spk2-d", "spk3": "spk3-e"})
    write_map(d / "reco2file_and_channel", {"rec1": "rec1 A", "rec2": "rec2 A"})
    return d, rec1, rec2
