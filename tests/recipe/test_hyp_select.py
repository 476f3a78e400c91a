"""recipe/hyp_select.py: the LLM's or Whisper's words per utterance, by both models' scores."""

import json

import pytest

from espnet_speechllm.recipe import hyp_select as hs
from espnet_speechllm.utils.kaldi_io import read_map

HYP = {"u1": "GIVE", "u2": "THE CAT SAT", "u3": "YES", "u4": ""}
WHISPER = {"u1": "GO", "u2": "A CAT SAT", "u3": "YES", "u4": "YOU"}
REFS = {"u1": "GO", "u2": "THE CAT SAT", "u3": "YES", "u4": ""}
# u1: the LLM prefers GIVE by 1 nat, Whisper GO by 4; u2: the LLM by 3, Whisper by 2
SCORES = {"u1": (-2.0, -3.0, -6.0, -2.0), "u2": (-1.0, -4.0, -5.0, -3.0)}


def test_whisper_form_is_sentence_case_with_a_full_stop():
    assert hs.whisper_form("GO AWAY") == " Go away."
    assert hs.whisper_form("  IT'S  TWENTY ") == " It's twenty."
    assert hs.whisper_form("") == ""


@pytest.mark.parametrize("weight, u1, u2", [(0.0, "GIVE", "THE CAT SAT"), (0.5, "GO", "THE CAT SAT"),
                                            (2.0, "GO", "A CAT SAT")])  # fmt: skip
def test_select_keeps_the_higher_weighted_sum(weight, u1, u2):
    # u1: -2 - 6w vs -3 - 2w (GO from w > 0.25); u2: -1 - 5w vs -4 - 3w (A CAT from w > 1.5)
    out = hs.select(HYP, WHISPER, SCORES, weight)
    assert out == {"u1": u1, "u2": u2, "u3": "YES", "u4": ""}  # unscored rows are kept as decoded
    with pytest.raises(ValueError, match="utt 'u9' is scored but has no hypothesis"):
        hs.select(HYP, WHISPER, {"u9": (0.0, 0.0, 0.0, 0.0)}, 1.0)


def test_fit_takes_the_fewest_errors_and_ties_nearest_one():
    weight, errors = hs.fit_weight([(HYP, WHISPER, SCORES, REFS)])
    assert errors == {0.0: 1, 0.125: 1, 0.25: 1, 0.5: 0, 1.0: 0, 2.0: 1, 4.0: 1, 8.0: 1}
    assert weight == 1.0  # 0.5 and 1 both make no error: the two models counted alike
    assert hs.fit_weight([(HYP, WHISPER, SCORES, REFS)], weights=(0.0, 0.25, 0.5))[0] == 0.5
    with pytest.raises(ValueError, match="1 hypotheses have no reference, e.g. 'u4'"):
        hs.fit_weight([(HYP, WHISPER, SCORES, {k: v for k, v in REFS.items() if k != "u4"})])


def _write(path, rows):
    path.write_text("".join(f"{k} {v}".rstrip() + "\n" for k, v in rows.items()))
    return path


def test_cli_fit_then_apply_round_trip(tmp_path, capsys):
    hyp, wh, ref = (_write(tmp_path / n, m) for n, m in (("hyp", HYP), ("wh", WHISPER), ("ref", REFS)))
    scores = _write(tmp_path / "scores", {u: " ".join(map(str, r)) for u, r in SCORES.items()})
    hs.main(["fit", "--set", str(hyp), str(wh), str(scores), str(ref), "--out", str(tmp_path / "s.json")])
    info = json.loads((tmp_path / "s.json").read_text())
    assert info["weight"] == 1.0 and info["ref_words"] == 5 and info["word_errors"]["0.0"] == 1
    assert "weight 1.0: 0 word errors of 5 (as decoded: 1)" in capsys.readouterr().out
    hs.main(["apply", "--select", str(tmp_path / "s.json"), "--hyp", str(hyp), "--whisper", str(wh),
             "--scores", str(scores), "--out_dir", str(tmp_path / "o")])  # fmt: skip
    assert read_map(tmp_path / "o" / "text") == {"u1": "GO", "u2": "THE CAT SAT", "u3": "YES", "u4": ""}
    assert read_map(tmp_path / "o" / "whisper_chosen") == {"u1": "GO"}


def test_bad_score_rows_name_the_file_and_utterance(tmp_path):
    bad = _write(tmp_path / "scores", {"u1": "-1.0 -2.0 x -3.0"})
    with pytest.raises(ValueError, match=r"scores: utt 'u1': expected 4 scores, got '-1.0 -2.0 x -3.0'"):
        hs.read_scores(bad)
    _write(tmp_path / "short", {"u1": "-1.0 -2.0"})
    (tmp_path / "s.json").write_text('{"weight": 1.0}')
    with pytest.raises(SystemExit, match="hyp_select apply: .*short: utt 'u1': expected 4 scores"):
        hs.main(["apply", "--select", str(tmp_path / "s.json"), "--hyp", str(bad), "--whisper", str(bad),
                 "--scores", str(tmp_path / "short"), "--out_dir", str(tmp_path / "o")])  # fmt: skip
