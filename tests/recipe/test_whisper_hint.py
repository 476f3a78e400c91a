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


def test_no_speech_probability_joins_the_hint_rounded(make_data_dir, tmp_path):
    data = make_data_dir({"s1-0": ("A", "s1", 1600), "s1-1": ("B", "s1", 1600)}, "test")
    hyp, nsp = tmp_path / "hyp", tmp_path / "nsp"
    write_map(hyp, {"s1-0": "a b", "s1-1": ""})
    write_map(nsp, {"s1-0": "0.0400", "s1-1": "0.8600"})
    whisper_hint.main(["--hyp", str(hyp), "--data", str(data), "--no_speech_prob", str(nsp)])
    inst = read_map(data / "instruction")
    assert inst["s1-0"] == ("Transcribe the audio. Whisper's no-speech probability: 0.0. "
                            'A first guess, which may be wrong: "a b"')  # fmt: skip
    assert "probability: 0.9. A first guess" in inst["s1-1"]


@pytest.mark.parametrize(
    "nsp, error",
    [({"s1-0": "0.5"}, r"nsp: no no-speech probability for 1 utterance\(s\), e.g. 's1-1'"),
     ({"s1-0": "0.5", "s1-1": "1.5"}, r"nsp: utt 's1-1': not a probability: '1.5'"),
     ({"s1-0": "0.5", "s1-1": "nan?"}, r"nsp: utt 's1-1': not a probability: 'nan\?'"),
     (None, r"whisper_hint: .*nsp: no such file")],
)  # fmt: skip
def test_a_bad_no_speech_file_is_named_and_nothing_is_written(make_data_dir, tmp_path, nsp, error):
    data = make_data_dir({"s1-0": ("A", "s1", 1600), "s1-1": ("B", "s1", 1600)}, "test")
    hyp = tmp_path / "hyp"
    write_map(hyp, {"s1-0": "a", "s1-1": "b"})
    if nsp is not None:
        write_map(tmp_path / "nsp", nsp)
    with pytest.raises(SystemExit, match=error):
        whisper_hint.main(["--hyp", str(hyp), "--data", str(data), "--no_speech_prob", str(tmp_path / "nsp")])
    assert not (data / "instruction").exists()
