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
    first_er_table = _table(lines, "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|")
    assert first_er_table == [
        ["decode_greedy/test", "2", "30", "90.0", "6.7", "3.3", "3.3", "13.3", "50.0"]
    ]
    assert lines[lines.index("### WER") + 2 :][:3] == [
        "|dataset|Snt|Wrd|Corr|Sub|Del|Ins|Err|S.Err|",
        "|---|---|---|---|---|---|---|---|---|",
        "|decode_greedy/test|2|8|75.0|12.5|12.5|0.0|25.0|50.0|",
    ]
    assert _table(lines, "|dataset|Snt|BLEU|chrF|BP|") == [
        ["decode_greedy/test_st", "2", "27.10", "50.25", "1.000"]
    ]


def test_missing_exp_dir_is_an_error(tmp_path):
    with pytest.raises(SystemExit, match="not a directory"):
        main(["--exp", str(tmp_path / "nope"), "--out", str(tmp_path / "R.md")])
