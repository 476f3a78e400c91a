"""Tests of espnet_speechllm/recipe/empty_gate.py: "" where a gate over the LLM's p("") and
Whisper's no-speech probability, fitted on held-out sets, says non-speech."""

import json
import math

import numpy as np
import pytest

from espnet_speechllm.recipe import empty_gate
from espnet_speechllm.utils.kaldi_io import read_map, write_map

# (LLM p_empty, Whisper no_speech_prob). Non-speech: most clips both detectors call non-speech,
# babble the LLM takes for speech; speech: short words the LLM nearly empties, and synthetic
# words on which Whisper is unsure. Each detector alone cannot keep all non-speech "".
NONSPEECH = [(0.95, 0.90)] * 30 + [(0.90, 0.70)] * 10 + [(0.05, 0.80)] * 8
SPEECH = [(0.01, 0.05)] * 40 + [(0.40, 0.10)] * 8 + [(0.01, 0.72)] * 8


def _x(pairs):
    keys = [f"u{i}" for i in range(len(pairs))]
    return empty_gate.features(keys, {k: p for k, (p, _) in zip(keys, pairs)}, {k: q for k, (_, q) in zip(keys, pairs)})


def test_the_gate_keeps_what_neither_detector_keeps_alone():
    gate = empty_gate.fit_gate(_x(NONSPEECH), _x(SPEECH), rate=1.0)
    assert gate.is_empty(_x(NONSPEECH)).all()
    assert not gate.is_empty(_x(SPEECH)).any()
    for col in (0, 1):  # one detector alone: its lowest non-speech value empties speech too
        lowest = min(p[col] for p in NONSPEECH)
        assert any(p[col] >= lowest for p in SPEECH)


def test_the_threshold_keeps_the_rate_of_the_nonspeech_set():
    rng = np.random.default_rng(0)
    ns, sp = rng.normal(1.0, 1.0, (50, 2)), rng.normal(-1.0, 1.0, (80, 2))
    for rate in (1.0, 0.98, 0.9, 0.5):
        gate = empty_gate.fit_gate(ns, sp, rate)
        assert int(gate.is_empty(ns).sum()) == math.ceil(rate * len(ns))
        assert gate.threshold < np.sort(gate.score(ns))[::-1][math.ceil(rate * len(ns)) - 1]
    with pytest.raises(ValueError, match="--rate 1.5 must be in"):
        empty_gate.fit_gate(ns, sp, 1.5)
    with pytest.raises(ValueError, match="needs both kinds: 50 non-speech and 0 speech"):
        empty_gate.fit_gate(ns, sp[:0], 0.98)


def test_probabilities_of_0_and_1_give_finite_features():
    x = empty_gate.features(["a", "b"], {"a": 0.0, "b": 1.0}, {"a": 1.0, "b": 0.0})
    assert np.isfinite(x).all() and x[0, 0] < -10 and x[1, 0] > 10


def _set(tmp_path, name, pairs, prefix):
    keys = [f"{prefix}{i}" for i in range(len(pairs))]
    write_map(tmp_path / name / "p_empty", {k: f"{p:.4f}" for k, (p, _) in zip(keys, pairs)})
    write_map(tmp_path / "whisper" / name / "no_speech_prob", {k: f"{q:.4f}" for k, (_, q) in zip(keys, pairs)})
    return [str(tmp_path / name / "p_empty"), str(tmp_path / "whisper" / name)], keys


def test_fit_then_apply_round_trip(tmp_path, capsys):
    ns, _ = _set(tmp_path, "dev_ns", NONSPEECH, "n")
    sp, _ = _set(tmp_path, "dev", SPEECH, "s")
    gate_file = tmp_path / "gate.json"
    empty_gate.main(["fit", "--rate", "1.0", "--out", str(gate_file), "--nonspeech", *ns, "--speech", *sp])
    assert "keeps 48/48 of the non-speech set" in capsys.readouterr().out
    spec = json.loads(gate_file.read_text())
    assert spec["rate"] == 1.0 and len(spec["coef"]) == 2 and spec["features"] == list(empty_gate.FEATURES)
    # a test set: babble, a short real word the LLM nearly empties, ordinary speech
    (p_file, w_dir), keys = _set(tmp_path, "test", [(0.05, 0.80), (0.40, 0.10), (0.01, 0.05)], "t")
    hyp = tmp_path / "hyp" / "text"
    write_map(hyp, {"t0": "UH HUH", "t1": "YES", "t2": "HELLO WORLD"})
    out_dir = tmp_path / "decode_emptygate" / "test"
    empty_gate.main(["apply", "--gate", str(gate_file), "--hyp", str(hyp), "--p_empty", p_file,
                     "--whisper", w_dir, "--out_dir", str(out_dir)])  # fmt: skip
    assert read_map(out_dir / "text") == {"t0": "", "t1": "YES", "t2": "HELLO WORLD"}
    assert list(read_map(out_dir / "emptied")) == ["t0"]
    assert "1 of 3 utterances gated" in capsys.readouterr().out
    assert read_map(hyp)["t0"] == "UH HUH"  # the decode itself is kept
    # the plain decode wrote "" for the short word: the gate says speech, so Whisper's words
    write_map(tmp_path / "whisper" / "test" / "text", {"t0": "HUH", "t1": "YES", "t2": "HELLO WORD"})
    write_map(hyp, {"t0": "", "t1": "", "t2": "HELLO WORLD"})
    empty_gate.main(["apply", "--gate", str(gate_file), "--hyp", str(hyp), "--p_empty", p_file, "--whisper", w_dir,
                     "--whisper_fallback", "true", "--out_dir", str(out_dir)])  # fmt: skip
    assert read_map(out_dir / "text") == {"t0": "", "t1": "YES", "t2": "HELLO WORLD"}
    assert list(read_map(out_dir / "fallback")) == ["t1"]
    assert "Whisper's 1-best for 1" in capsys.readouterr().out


@pytest.mark.parametrize(
    "p_empty, nsp, gate_text, error",
    [({"a": "0.1"}, {"a": "0.1", "b": "0.1"}, None, r"p_empty: no entry for 1 utt\(s\), e.g. 'b'"),
     ({"a": "0.1", "b": "x"}, {"a": "0.1", "b": "0.1"}, None, r"p_empty: utt 'b': not a probability: 'x'"),
     ({"a": "0.1", "b": "0.1"}, {"a": "0.1"}, None, r"no_speech_prob: no entry for 1 utt\(s\), e.g. 'b'"),
     ({"a": "0.1", "b": "0.1"}, None, None, r"empty_gate: .*no_speech_prob: no such file"),
     ({"a": "0.1", "b": "0.1"}, {"a": "0.1", "b": "0.1"}, "{}", r"gate.json: not a gate written by 'empty_gate fit'")],
)  # fmt: skip
def test_bad_inputs_are_named_and_nothing_is_written(tmp_path, p_empty, nsp, gate_text, error):
    gate_file = tmp_path / "gate.json"
    gate_file.write_text(gate_text or json.dumps({"coef": [1.0, 1.0], "intercept": 0.0, "threshold": 0.0, "rate": 0.98}))
    write_map(tmp_path / "p_empty", p_empty)
    if nsp is not None:
        write_map(tmp_path / "whisper" / "no_speech_prob", nsp)
    write_map(tmp_path / "text", {"a": "A", "b": "B"})
    out_dir = tmp_path / "out"
    with pytest.raises(SystemExit, match=error):
        empty_gate.main(["apply", "--gate", str(gate_file), "--hyp", str(tmp_path / "text"), "--p_empty",
                         str(tmp_path / "p_empty"), "--whisper", str(tmp_path / "whisper"), "--out_dir", str(out_dir)])  # fmt: skip
    assert not out_dir.exists()
