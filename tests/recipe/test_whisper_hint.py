"""Tests of espnet_speechllm/recipe/whisper_hint.py (Whisper's 1-best as the per-utterance instruction)."""

import pytest

from espnet_speechllm.recipe import whisper_hint
from espnet_speechllm.utils.kaldi_io import read_map, write_map


def test_every_utterance_gets_its_own_hypothesis_as_hint(make_data_dir, tmp_path):
    data = make_data_dir({f"s1-{i}": ("A B", "s1", 1600) for i in range(3)}, "test")
    hyp = tmp_path / "hyp"
    write_map(hyp, {"s1-0": "hello  world", "s1-1": "", "s1-2": "x", "other": "unused"})
    whisper_hint.main(["--hyp", str(hyp), "--data", str(data)])
    inst = read_map(data / "instruction")
    assert sorted(inst) == ["s1-0", "s1-1", "s1-2"]
    assert inst["s1-0"] == 'Transcribe the audio. A first guess, which may be wrong: "hello world"'
    assert inst["s1-1"].endswith(': ""')  # an empty guess stays visible as empty


def test_a_missing_hypothesis_names_the_utterance(make_data_dir, tmp_path):
    data = make_data_dir({"s1-0": ("A", "s1", 1600), "s1-1": ("B", "s1", 1600)}, "test")
    hyp = tmp_path / "hyp"
    write_map(hyp, {"s1-0": "a"})
    with pytest.raises(SystemExit, match=r"hyp: no hypothesis for 1 utterance\(s\), e.g. 's1-1'"):
        whisper_hint.main(["--hyp", str(hyp), "--data", str(data)])
    assert not (data / "instruction").exists()
