import json

import pytest

from espnet_speechllm.recipe.results import main, model_params

# The tail of what espnet2.torch_utils.model_summary.model_summary() logs.
SUMMARY = """\
Model summary:
    Class Name: ESPnetSpeechLLMModel
    Total Number of model parameters: {total}
    Number of trainable parameters: {trainable}
    Size: 4.2 MB
    Type: torch.float32
"""


@pytest.fixture
def exp(tmp_path):
    exp = tmp_path / "exp" / "speechllm_tiny"
    exp.mkdir(parents=True)
    (exp / "config.yaml").write_text("encoder: whisper\n")
    (exp / "train.log").write_text(
        "# first run\n"
        + SUMMARY.format(total="1.00 M", trainable="1.00 M (100.0%)")
        + "# resumed\n"
        + SUMMARY.format(total="135.52 M", trainable="1.05 M (0.8%)")
    )
    scores = {
        "test/score_wer": {
            "metric": "wer",
            "n_utt": 2,
            "n_ref": 8,
            "corr": 75.0,
            "sub": 12.5,
            "del": 12.5,
            "ins": 0.0,
            "err": 25.0,
            "serr": 50.0,
            "n_hyp": 8,
            "empty_rate": 12.5,
        },
        "test_nonspeech/score_wer": {  # every reference empty: rates undefined
            "metric": "wer",
            "n_utt": 4,
            "n_ref": 0,
            **dict.fromkeys(("corr", "sub", "del", "ins", "err")),
            "serr": 50.0,
            "n_hyp": 3,
            "empty_rate": 50.0,
        },
        "test/score_cer": {
            "metric": "cer",
            "n_utt": 2,
            "n_ref": 30,
            "corr": 90.0,
            "sub": 6.7,
            "del": 3.3,
            "ins": 3.3,
            "err": 13.3,
            "serr": 50.0,
        },
        "test_st/score_bleu": {
            "metric": "bleu",
            "n_utt": 2,
            "bleu": 27.1,
            "chrf": 50.25,
            "bp": 1.0,
            "signature": "nrefs:1|...",
        },
    }
    for sub, score in scores.items():
        d = exp / "decode_greedy" / sub
        d.mkdir(parents=True)
        (d / "score.json").write_text(json.dumps(score))
    return exp


def test_model_params_takes_last_summary(exp):
    assert model_params(exp / "train.log") == {
        "class": "ESPnetSpeechLLMModel",
        "total": "135.52 M",
        "trainable": "1.05 M (0.8%)",
    }
    assert model_params(exp / "missing.log") is None


def _table(lines, header):
    start = lines.index(header)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line.strip("|").split("|"))
    return rows


def test_results_md_sections_and_tables(exp, tmp_path):
    out = tmp_path / "RESULTS.md"
    main(["--exp", str(exp), "--out", str(out)])
    lines = out.read_text().splitlines()
    assert lines[:2] == ["# RESULTS", "## Environments"]
    for key in (
        "date",
        "os",
        "python version",
        "torch version",
        "espnet version",
        "transformers version",
        "CPU",
        "git revision",
    ):
        assert any(line.startswith(f"- {key}: ") for line in lines), key
    assert f"## {exp}" in lines
    assert (
        "- config: [exp/speechllm_tiny/config.yaml](exp/speechllm_tiny/config.yaml)"
        in lines
    )
    assert (
        "- params: total 135.52 M, trainable 1.05 M (0.8%) "
        "(model class `ESPnetSpeechLLMModel`)" in lines
    )
    header = "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|HypWrd|Empty|"
    first_er_table = _table(lines, header)
    assert first_er_table == [  # a score.json of before n_hyp / empty_rate: "-"
        ["decode_greedy/test", "2", "30", "90.0", "6.7", "3.3", "3.3", "13.3", "50.0", "-", "-"]
    ]
    assert lines[lines.index("### WER") + 2 :][:4] == [
        header,
        "|---|---|---|---|---|---|---|---|---|---|---|",
        "|decode_greedy/test|2|8|75.0|12.5|12.5|0.0|25.0|50.0|8|12.5|",
        "|decode_greedy/test_nonspeech|4|0|-|-|-|-|-|50.0|3|50.0|",
    ]
    assert _table(lines, "|dataset|Snt|BLEU|chrF|BP|") == [
        ["decode_greedy/test_st", "2", "27.10", "50.25", "1.000"]
    ]


def test_missing_exp_dir_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="not a directory"):
        main(["--exp", str(tmp_path / "nope"), "--out", str(tmp_path / "R.md")])


def test_ablation_table_one_row_per_system(tmp_path):
    import json

    from espnet_speechllm.recipe.results import ablation_table, last_valid, main

    def exp(name, err, ratio, rescored=False):
        e = tmp_path / "exp" / name
        d = e / "decode_x" / "test" / "score_wer"
        d.mkdir(parents=True)
        score = dict(metric="wer", n_utt=2, n_ref=8, err=err, sub=err - 1, ins=0.5)
        score["del"] = 0.5
        if rescored:  # a score.json with the empty-hypothesis rate
            score["empty_rate"] = 50.0
        (d / "score.json").write_text(json.dumps(score))
        log = ["Total Number of model parameters: 5.85 M",
               "Number of trainable parameters: 2.32 M (39.6%)"]
        for epoch, r in ((1, 99.0), (2, ratio)):
            log.append(f"x INFO: {epoch}epoch results: [train] prefix_ratio=1.000, acc=0.9, loss=2 "
                       f"[valid] loss_att=2.5, acc=0.{epoch}5, prefix_ratio={r}, time=3 seconds")
        (e / "train.log").write_text("\n".join(log) + "\n")
        (e / "train_time").write_text("120\n")
        (e / "decode_time").write_text("30\n")
        if rescored:
            (e / "decode_x" / "test" / "rescore_time").write_text("4.2\n")
        return e

    e3 = exp("abl_e3", 80.0, 7.25)
    b1 = exp("abl_b1", 40.0, None, rescored=True)
    (b1 / "train.log").write_text("Total Number of model parameters: 3.06 M\n")
    assert last_valid(e3 / "train.log", "prefix_ratio") == 7.25
    assert last_valid(e3 / "train.log", "acc") == 0.25  # valid, last epoch (not train's 0.9)
    assert last_valid(b1 / "train.log", "prefix_ratio") is None
    lines = ablation_table([("E3", e3 / "decode_x"), ("B2", b1 / "decode_x")])
    assert lines[0].startswith("|system|exp / decode dir / test set|Snt|Wrd|WER|Sub|Del|Ins|Empty|")
    assert lines[2] == "|E3|abl_e3/decode_x/test|2|8|80.0|79.0|0.5|0.5|-|5.85 M (2.32 M (39.6%))|120|30|0.250|7.25|"
    assert lines[3] == "|B2|abl_b1/decode_x/test|2|8|40.0|39.0|0.5|0.5|50.0|3.06 M (?)|120|30 + 4|-|-|"
    out = tmp_path / "ALL.md"
    main(["--row", f"E3={e3 / 'decode_x'}", "--row", f"B2={b1 / 'decode_x'}", "--out", str(out)])
    text = out.read_text()
    assert lines[2] in text and lines[3] in text and "## Environments" in text
    with pytest.raises(SystemExit, match="not a directory"):
        main(["--row", f"E9={tmp_path / 'nope'}", "--out", str(out)])


def test_ablation_table_bleu_where_no_row_has_a_wer(tmp_path, caplog):
    """Speech translation (stage 13 --scoring_metrics bleu): BLEU / chrF / BP columns."""
    import json

    from espnet_speechllm.recipe.results import ablation_table

    rows = []
    for name, bleu in (("abl_e3", 12.345), ("abl_b1", None)):
        ddir = tmp_path / name / "decode_x"
        if bleu is not None:  # abl_b1 was not scored: a row of "-"
            d = ddir / "test_de" / "score_bleu"
            d.mkdir(parents=True)
            score = dict(metric="bleu", n_utt=100, bleu=bleu, chrf=40.0, bp=0.9876)
            (d / "score.json").write_text(json.dumps(score))
        ddir.mkdir(parents=True, exist_ok=True)
        (tmp_path / name / "train_time").write_text("60\n")
        rows.append((name[4:].upper(), ddir))
    lines = ablation_table(rows)
    assert lines[0].startswith("|system|exp / decode dir / test set|Snt|BLEU|chrF|BP|params")
    assert lines[1].count("---") == lines[0].count("|") - 1 == 11
    assert lines[2] == "|E3|abl_e3/decode_x/test_de|100|12.35|40.00|0.988|? (?)|60|-|-|-|"
    assert lines[3] == "|B1|abl_b1/decode_x/-|-|-|-|-|? (?)|60|-|-|-|"
    assert "no " + str(rows[1][1]) + "/*/score_bleu/score.json" in caplog.text
