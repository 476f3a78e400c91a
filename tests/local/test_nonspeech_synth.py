"""Tests of local/nonspeech_synth.py and local/nonspeech_signals.py (non-speech data dirs)."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

import nonspeech_synth as make

from espnet_speechllm.recipe.kaldi_dir import validate
from espnet_speechllm.utils.kaldi_io import read_map

needs_tools = pytest.mark.skipif(
    not (shutil.which("sox") and shutil.which("espeak-ng")), reason="needs sox + espeak-ng"
)


@needs_tools
def test_every_kind_gives_a_16k_signal_of_the_planned_length_and_empty_text(tmp_path):
    kinds = list(make.KINDS)
    make.main(["--data_dir", str(tmp_path / "d"), "--wav_dir", str(tmp_path / "w"),
               "--num_utts", str(len(kinds)), "--seed", "5", "--nj", "2",
               "--min_sec", "1", "--max_sec", "2"])
    validate(tmp_path / "d", need=("wav.scp", "text", "utt2spk", "spk2utt"))
    text, wavs = read_map(tmp_path / "d" / "text"), read_map(tmp_path / "d" / "wav.scp")
    assert set(text.values()) == {"<nospeech>"} and len(text) == len(kinds)
    plan = make.plan(kinds, len(kinds), 5, tmp_path / "w", 1.0, 2.0)
    assert sorted(read_map(tmp_path / "d" / "utt2spk").values()) == sorted(
        f"nonspeech_{k}" for k in kinds
    )
    for utt, kind, _, seconds, _ in plan:
        x, fs = soundfile.read(wavs[utt])
        assert fs == 16000 and x.ndim == 1, utt
        assert abs(len(x) / fs - seconds) < 0.06, (utt, len(x) / fs, seconds)
        assert 0 < np.abs(x).max() < 1.0, utt  # not silent, not clipped


@needs_tools
def test_same_seed_same_audio_other_seed_other_audio(tmp_path):
    def build(seed, name):
        make.main(["--data_dir", str(tmp_path / name), "--wav_dir", str(tmp_path / f"{name}_w"),
                   "--num_utts", "3", "--seed", str(seed), "--kinds", "pink,babble,music",
                   "--max_sec", "2"])
        return [Path(p).read_bytes() for _, p in sorted(read_map(tmp_path / name / "wav.scp").items())]

    assert build(1, "a") == build(1, "b")
    assert all(x != y for x, y in zip(build(1, "a"), build(2, "c")))


def test_plan_rejects_unknown_kinds_and_bad_durations(tmp_path):
    with pytest.raises(ValueError, match="--kinds speech: expected some of white,pink"):
        make.plan(["speech"], 2, 0, tmp_path, 1.0, 2.0)
    with pytest.raises(ValueError, match=r"--min_sec \(3.0\) <= --max_sec \(2.0\)"):
        make.plan(["pink"], 2, 0, tmp_path, 3.0, 2.0)
