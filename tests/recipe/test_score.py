import json
import logging

import pytest

from espnet_speechllm.recipe.score import (
    clean,
    find_sclite,
    main,
    parse_sum_avg,
    score,
    sum_avg_line,
    tokens,
)

# Hand-aligned: u1 has SAT->SIT (S) and a dropped THE (D); u2 an inserted BIG (I);
# u3 is exact. N = 6 + 2 + 1 = 9 words; 2 of 3 sentences have errors.
REF = "u1 THE CAT SAT ON THE MAT\nu2 HELLO WORLD\nu3 YES\n"
HYP = "u1 THE CAT SIT ON MAT\nu2 HELLO BIG WORLD\nu3 YES\n"
EXPECTED = {
    "metric": "wer",
    "n_utt": 3,
    "n_ref": 9,
    "corr": round(100 * 7 / 9, 1),
    "sub": round(100 * 1 / 9, 1),
    "del": round(100 * 1 / 9, 1),
    "ins": round(100 * 1 / 9, 1),
    "err": round(100 * 3 / 9, 1),
    "serr": round(100 * 2 / 3, 1),
    "n_hyp": 5 + 3 + 1,
    "empty_rate": 0.0,
}
BACKENDS = [
    pytest.param(
        "sclite", marks=pytest.mark.skipif(find_sclite() is None, reason="needs sclite")
    ),
    "jiwer",
]


@pytest.fixture
def texts(tmp_path):
    (tmp_path / "ref").write_text(REF)
    (tmp_path / "hyp").write_text(HYP)
    return tmp_path / "ref", tmp_path / "hyp"


@pytest.mark.parametrize("backend", BACKENDS)
def test_wer_matches_hand_counts(texts, tmp_path, backend):
    result = score("wer", *texts, tmp_path / "out", backend=backend)
    assert result == EXPECTED
    assert json.loads((tmp_path / "out" / "score.json").read_text()) == EXPECTED
    assert (tmp_path / "out" / "ref.trn").read_text().splitlines()[0] == (
        "the cat sat on the mat\t(u1-u1)"  # what was scored: case folded
    )
    assert "Sum/Avg" in (tmp_path / "out" / "result.txt").read_text()


def test_jiwer_report_says_so(texts, tmp_path):
    score("wer", *texts, tmp_path / "out", backend="jiwer")
    assert "sclite not used" in (tmp_path / "out" / "result.txt").read_text()


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_hypothesis_counts_as_deletions(tmp_path, backend, caplog):
    (tmp_path / "ref").write_text("a-1 ONE TWO\na-2 THREE FOUR FIVE\n")
    (tmp_path / "hyp").write_text("a-1 ONE TWO\n")
    with caplog.at_level(logging.WARNING):
        result = score(
            "wer", tmp_path / "ref", tmp_path / "hyp", tmp_path / "o", backend=backend
        )
    assert "missing in" in caplog.text and "'a-2'" in caplog.text
    assert (result["n_ref"], result["del"], result["err"], result["serr"]) == (
        5,
        60.0,
        60.0,
        50.0,
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_cer_uses_characters_with_space_token(tmp_path, backend):
    (tmp_path / "ref").write_text("u1 ab cd\n")
    (tmp_path / "hyp").write_text("u1 abcd\n")
    result = score(
        "cer", tmp_path / "ref", tmp_path / "hyp", tmp_path / "o", backend=backend
    )
    assert (tmp_path / "o" / "ref.trn").read_text() == "a b <space> c d\t(u1-u1)\n"
    assert (result["n_ref"], result["del"], result["err"]) == (5, 20.0, 20.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_case_is_ignored_as_asr_sh_does_unless_case_sensitive(tmp_path, backend):
    (tmp_path / "ref").write_text("u1 Hello World\nu2 Élan Öl\n")
    (tmp_path / "hyp").write_text("u1 hello world\nu2 élan öl\n")  # sclite folds ASCII only
    args = ("wer", tmp_path / "ref", tmp_path / "hyp", tmp_path / "o")
    assert score(*args, backend=backend)["err"] == 0.0
    assert score("cer", *args[1:], backend=backend)["err"] == 0.0
    assert score(*args, backend=backend, case_sensitive=True)["sub"] == 100.0
    assert (tmp_path / "o" / "ref.trn").read_text().startswith("Hello World\t")
    assert score(*args, cleaner="upper", backend=backend, case_sensitive=True)["err"] == 0.0


def test_cli_case_sensitive_flag(tmp_path):
    (tmp_path / "ref").write_text("u1 Hello World\n")
    (tmp_path / "hyp").write_text("u1 hello world\n")
    common = ["--metric", "wer", "--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp")]
    main(common + ["--out_dir", str(tmp_path / "a")])
    main(common + ["--out_dir", str(tmp_path / "b"), "--case_sensitive", "true"])
    assert json.loads((tmp_path / "a" / "score.json").read_text())["err"] == 0.0
    assert json.loads((tmp_path / "b" / "score.json").read_text())["err"] == 100.0


def test_cleaners_and_tokens():
    assert (
        clean("  Don't  stop, well-known! ", "lower_nopunct") == "dont stop well known"
    )
    assert clean("Hi there", "upper") == "HI THERE"
    assert clean("a\tb ", "none") == "a b"
    assert tokens("ab c", "cer") == ["a", "b", "<space>", "c"]
    assert tokens("ab c", "wer") == ["ab", "c"]


def test_sum_avg_line_round_trips():
    line = sum_avg_line(3, 9, [77.8, 11.1, 11.1, 11.1, 33.3, 66.7])
    assert parse_sum_avg(f"header\n{line}\n") == {
        k: v for k, v in EXPECTED.items() if k not in ("metric", "n_hyp", "empty_rate")
    }


def test_bleu(tmp_path, capsys):
    (tmp_path / "ref").write_text(
        "u1 the cat sat on the mat\nu2 hello there my friend\n"
    )
    (tmp_path / "hyp").write_text(
        "u1 the cat sat on the mat\nu2 hello there my friend\n"
    )
    main(
        [
            "--metric",
            "bleu",
            "--ref",
            str(tmp_path / "ref"),
            "--hyp",
            str(tmp_path / "hyp"),
            "--out_dir",
            str(tmp_path / "o"),
        ]
    )
    result = json.loads((tmp_path / "o" / "score.json").read_text())
    assert (result["bleu"], result["chrf"], result["n_utt"]) == (100.0, 100.0, 2)
    assert "BLEU = 100.00" in (tmp_path / "o" / "result.txt").read_text()
    assert "score: bleu 100.0" in capsys.readouterr().out


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_rate_and_insertion_rate_columns(tmp_path, backend):
    # u1: 2 inserted words over N = 4 words; u2 decoded to nothing (2 deletions).
    (tmp_path / "ref").write_text("u1 A B\nu2 C D\nu3 <nospeech>\n")
    (tmp_path / "hyp").write_text("u1 A X B Y\nu2\nu3\n")
    result = score("wer", tmp_path / "ref", tmp_path / "hyp", tmp_path / "o", backend=backend)
    assert (result["n_ref"], result["ins"], result["del"]) == (4, 50.0, 50.0)
    assert (result["n_hyp"], result["empty_rate"]) == (4, round(100 * 2 / 3, 1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_empty_references_give_an_undefined_wer_not_a_crash(tmp_path, backend, capsys):
    # A non-speech test set: the marker is an empty reference, any word an insertion.
    (tmp_path / "ref").write_text("n1 <nospeech>\nn2 <NOSPEECH>\nn3 <nospeech>\nn4 <nospeech>\n")
    (tmp_path / "hyp").write_text("n1\nn2 THE END\nn3\nn4 AMEN\n")
    result = score("wer", tmp_path / "ref", tmp_path / "hyp", tmp_path / "o", backend=backend)
    assert result == {
        "metric": "wer", "n_utt": 4, "n_ref": 0, "corr": None, "sub": None, "del": None,
        "ins": None, "err": None, "serr": 50.0, "n_hyp": 3, "empty_rate": 50.0,
    }
    assert json.loads((tmp_path / "o" / "score.json").read_text()) == result
    assert "WER undefined" in (tmp_path / "o" / "result.txt").read_text()
    main(["--metric", "wer", "--ref", str(tmp_path / "ref"), "--hyp", str(tmp_path / "hyp"),
          "--out_dir", str(tmp_path / "o2"), "--backend", backend])
    assert "score: wer undefined, empty hypotheses 50.0% (4 utts)" in capsys.readouterr().out


@pytest.mark.parametrize("backend", BACKENDS)
def test_ids_with_brackets_are_scored_and_reported_by_their_names(tmp_path, backend):
    # sclite alone: "x({1" crashed it (code -11), "a(b" lost a word (16.7 instead of 20.0).
    ids = ("a(b", "s({-x({1", "y2")
    (tmp_path / "ref").write_text(f"{ids[0]} A B C\n{ids[1]} D E\n{ids[2]} F G H\n")
    (tmp_path / "hyp").write_text(f"{ids[0]} A B\n{ids[1]} D E\n{ids[2]} F G H\n")
    result = score("wer", tmp_path / "ref", tmp_path / "hyp", tmp_path / "o", backend=backend)
    assert (result["n_ref"], result["del"], result["err"]) == (8, 12.5, 12.5)
    trn = (tmp_path / "o" / "ref.trn").read_text()
    assert "a b c\t(a(b-a(b)\nd e\t(s({-s({-x({1)\n" in trn  # real ids (case folded text)
    report = (tmp_path / "o" / "result.txt").read_text()
    assert "_sclite" not in report
    if backend == "sclite":  # the per-utterance alignments name the real utterances
        assert "id: (a(b-a(b)" in report and "id: (s({-s({-x({1)" in report


def test_mostly_empty_hypotheses_on_speech_warn_of_a_collapse(tmp_path, caplog):
    # A model collapsed to end-of-sentence: 2 of the 3 speech utterances decode to "".
    # The non-speech utterance n1 does not count either way.
    (tmp_path / "ref").write_text("n1 <nospeech>\nu1 A B\nu2 C\nu3 D\n")
    (tmp_path / "hyp").write_text("n1\nu1\nu2\nu3 D\n")
    with caplog.at_level(logging.WARNING):
        result = score("wer", tmp_path / "ref", tmp_path / "hyp", tmp_path / "o", backend="jiwer")
    assert result["del"] == 75.0
    assert "2 of the 3 utterances with a reference" in caplog.text
    assert "collapsed to end-of-sentence" in caplog.text
    caplog.clear()
    (tmp_path / "hyp").write_text("n1\nu1 A B\nu2\nu3 D\n")  # 1 of 3: no warning
    with caplog.at_level(logging.WARNING):
        score("wer", tmp_path / "ref", tmp_path / "hyp", tmp_path / "o2", backend="jiwer")
    assert "collapsed" not in caplog.text
