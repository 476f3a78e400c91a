"""Tests of espnet_speechllm/recipe/whisper_fallback.py: Whisper's 1-best where the speech-LLM
wrote "" but Whisper's no-speech probability says speech."""

import pytest

from espnet_speechllm.recipe import whisper_fallback
from espnet_speechllm.utils.kaldi_io import read_map, write_map


def _whisper_dir(tmp_path, hyps, nsp):
    d = tmp_path / "decode_whisper" / "test"
    write_map(d / "text", hyps)
    if nsp is not None:
        write_map(d / "no_speech_prob", nsp)
    return d


def test_only_empty_hypotheses_below_the_threshold_take_whispers_words(tmp_path):
    hyp = tmp_path / "text"
    # speech the LLM emptied; non-speech it emptied; a kept LLM hypothesis; Whisper heard nothing
    write_map(hyp, {"a": "", "b": "", "c": "LLM WORDS", "d": ""})
    whisper = _whisper_dir(tmp_path, {"a": "YES", "b": "UH HUH", "c": "WHISPER WORDS", "d": ""},
                           {"a": "0.0400", "b": "0.8100", "c": "0.0100", "d": "0.0100"})  # fmt: skip
    out_dir = tmp_path / "decode_whisperfallback0.3" / "test"
    whisper_fallback.main(["--hyp", str(hyp), "--whisper", str(whisper), "--threshold", "0.3",
                           "--out_dir", str(out_dir)])  # fmt: skip
    assert read_map(out_dir / "text") == {"a": "YES", "b": "", "c": "LLM WORDS", "d": ""}
    assert read_map(out_dir / "fallback") == {"a": "0.0400"}
    assert read_map(hyp)["a"] == ""  # the LLM's own decode is kept as it was


def test_the_threshold_is_strict():
    out, replaced = whisper_fallback.fall_back({"a": "", "b": ""}, {"a": "A", "b": "B"}, {"a": 0.3, "b": 0.29}, 0.3)
    assert out == {"a": "", "b": "B"} and replaced == ["b"]


@pytest.mark.parametrize(
    "whisper_hyps, nsp, threshold, error",
    [({"a": "A"}, {"a": "0.1", "b": "0.1"}, "0.3", r"decode_whisper/test/text: no entry for 1 utt\(s\), e.g. 'b'"),
     ({"a": "A", "b": "B"}, {"a": "0.1"}, "0.3", r"no_speech_prob: no entry for 1 utt\(s\), e.g. 'b'"),
     ({"a": "A", "b": "B"}, {"a": "0.1", "b": "high"}, "0.3", r"no_speech_prob: utt 'b': not a probability: 'high'"),
     ({"a": "A", "b": "B"}, None, "0.3", r"whisper_fallback: .*no_speech_prob: no such file"),
     ({"a": "A", "b": "B"}, {"a": "0.1", "b": "0.1"}, "30", r"--threshold 30.0: not a probability")],
)  # fmt: skip
def test_bad_inputs_are_named_and_nothing_is_written(tmp_path, whisper_hyps, nsp, threshold, error):
    hyp = tmp_path / "text"
    write_map(hyp, {"a": "", "b": ""})
    whisper = _whisper_dir(tmp_path, whisper_hyps, nsp)
    out_dir = tmp_path / "out"
    with pytest.raises(SystemExit, match=error):
        whisper_fallback.main(["--hyp", str(hyp), "--whisper", str(whisper), "--threshold", threshold,
                               "--out_dir", str(out_dir)])  # fmt: skip
    assert not out_dir.exists()
