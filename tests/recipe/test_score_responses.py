import json

import pytest

from espnet_speechllm.recipe import score_responses as sr
from espnet_speechllm.recipe.results import load_scores, score_table


def _write(path, mapping):
    path.write_text("".join(f"{u} {v}\n" for u, v in mapping.items()))
    return path


def test_identical_responses_score_100():
    refs = ["The capital of France is Paris.", "Two plus three is five."]
    g = sr.score_group(list(refs), refs)
    assert g == {"n_utt": 2, "bleu": 100.0, "chrf": 100.0, "exact": 100.0}
    # short answers have no 4-grams: still 100
    assert sr.bleu_chrf(["Paris.", "Five"], ["Paris.", "Five"]) == (100.0, 100.0)


def test_exact_match_is_normalised():
    refs = ["Paris.", "Five", "Blue"]
    hyps = ["paris", "five!", "The sky is blue"]
    assert sr.exact_match(hyps, refs) == pytest.approx(200 / 3)


def test_answer_rate_whole_words_and_alternatives():
    hyps = ["The capital is Paris.", "It is fivefold", "Grey, mostly."]
    answers = ["paris", "five", "blue|grey"]
    # "five" inside "fivefold" is not a hit
    assert sr.answer_rate(hyps, answers) == pytest.approx(200 / 3)


def test_wer_normalised():
    # one substitution in four words; case and punctuation do not count
    assert sr.word_error_rate(["and god said, LET"], ["AND GOD SAID THERE"]) == 25.0


def test_bleu_partial_is_between():
    bleu, chrf = sr.bleu_chrf(["the cat sat on the mat today"], ["the cat sat on the mat"])
    assert 0 < bleu < 100 and 0 < chrf < 100


def test_score_responses_groups_repeat_wer_and_results_table(tmp_path):
    utts = ["a1", "a2", "b1", "b2"]
    ref = _write(tmp_path / "response", dict(zip(utts, ["Yes.", "No.", "GO HOME", "STOP NOW"])))
    hyp = _write(tmp_path / "hyp", dict(zip(utts, ["yes", "Maybe.", "go home", "stop"])))
    inst = {"a1": "Summarise what was said", "a2": "Summarise what was said",
            "b1": "Repeat exactly what was said", "b2": "Repeat exactly what was said"}  # fmt: skip
    inst = _write(tmp_path / "instruction", inst)
    text = _write(tmp_path / "text", dict(zip(utts, ["YES", "NO", "GO HOME", "STOP NOW"])))
    out = tmp_path / "decode_x" / "test_inst" / "score_response"
    result = sr.score_responses(hyp, ref, out, instruction=inst, transcript=text)
    groups = result["groups"]
    assert list(groups) == ["all", "Summarise what was said", "Repeat exactly what was said"]
    assert groups["all"]["exact"] == 50.0 and groups["all"]["n_utt"] == 4
    assert groups["Summarise what was said"]["exact"] == 50.0
    assert "wer" not in groups["Summarise what was said"] and "wer" not in groups["all"]
    assert groups["Repeat exactly what was said"]["wer"] == 25.0  # "stop" for "STOP NOW"
    assert json.loads((out / "score.json").read_text()) == result

    by_metric = load_scores(tmp_path)
    lines = score_table("response", by_metric["response"])
    assert lines[0] == "|dataset|group|Snt|BLEU|chrF|exact %|answer %|WER|"
    assert lines[4].startswith("|decode_x/test_inst|Repeat exactly what was said|2|")
    assert lines[4].endswith("|50.00|-|25.00|")


def test_missing_answer_names_file(tmp_path):
    ref = _write(tmp_path / "response", {"u1": "x", "u2": "y"})
    ans = _write(tmp_path / "answer", {"u1": "x"})
    with pytest.raises(ValueError, match="answer: no entry for 1 utt"):
        sr.score_responses(ref, ref, tmp_path / "o", answer=ans)


def test_cli_and_systems_table(tmp_path, capsys):
    ref = _write(tmp_path / "response", {"u1": "Paris.", "u2": "Five."})
    ans = _write(tmp_path / "answer", {"u1": "paris", "u2": "five"})
    for name, hyp in (("e2e", {"u1": "Paris.", "u2": "Six."}), ("cascade", {"u1": "Rome", "u2": "Five."})):
        h = _write(tmp_path / f"{name}.txt", hyp)
        sr.main(["--hyp", str(h), "--ref", str(ref), "--answer", str(ans),
                 "--out_dir", str(tmp_path / name / "test_qa" / "score_response")])  # fmt: skip
    assert "exact 50.0%" in capsys.readouterr().out
    table = tmp_path / "t.md"
    sr.main(["table", "--row", f"E2E={tmp_path / 'e2e'}", "--row", f"cascade={tmp_path / 'cascade'}",
             "--out", str(table)])  # fmt: skip
    lines = table.read_text().splitlines()
    assert [line.split("|")[1] for line in lines[2:]] == ["E2E: test_qa", "cascade: test_qa"]
    assert lines[2].split("|")[6:8] == ["50.00", "50.00"]
    with pytest.raises(SystemExit, match="required"):
        sr.main(["--hyp", str(ref)])
