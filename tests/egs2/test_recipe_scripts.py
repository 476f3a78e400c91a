"""egs2/TEMPLATE/speechllm1/scripts/*.sh and the recipe dirs that link them."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "egs2" / "TEMPLATE" / "speechllm1" / "scripts"
RECIPES = [
    ROOT / "egs2" / name / "speechllm1"
    for name in ("espeak_en", "mini_an4", "espeak_st", "espeak_ml")
]


def run(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return subprocess.run(
        ["bash", str(SCRIPTS / script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.parent.name)
def test_recipes_link_the_template(recipe):
    for name in ("speechllm.sh", "utils", "scripts", "path.sh", "cmd.sh"):
        link = recipe / name
        assert link.is_symlink(), f"{link} should link the TEMPLATE"
        assert link.resolve() == (ROOT / "egs2/TEMPLATE/speechllm1" / name).resolve()
    assert os.access(recipe / "run.sh", os.X_OK)
    for conf in ("train_speechllm.yaml", "train_lm.yaml", "decode_speechllm.yaml"):
        assert (recipe / "conf" / conf).is_file()


def test_check_data_dir_ok_and_summary(make_data_dir, tmp_path):
    d = make_data_dir({"s1-a": ("HELLO WORLD", "s1", 16000), "s2-b": ("HI", "s2", 8000)})
    out = run("check_data_dir.sh", str(d), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{d}: OK: 2 utts, 2 speakers, ? s, 3 words"
    (d / "utt2num_samples").write_text("s1-a 16000\ns2-b 8000\n")
    out = run("check_data_dir.sh", "--fs", "8000", str(d), cwd=tmp_path)
    assert "3.0 s" in out.stdout


def test_check_data_dir_reports_problems_and_fixes(make_data_dir, tmp_path):
    good = make_data_dir({"s1-a": ("A", "s1", 1600)}, name="good")
    bad = make_data_dir({"s1-a": ("A", "s1", 1600), "s1-b": ("B", "s1", 1600)}, name="bad")
    (bad / "text").write_text("s1-b B\ns1-a A\n")  # unsorted
    out = run("check_data_dir.sh", str(good), str(bad), cwd=tmp_path)
    assert out.returncode == 1
    assert f"{bad}/text:2: id 's1-a' out of order" in out.stderr
    assert "1 of 2 data dir(s) invalid" in out.stderr
    assert f"{good}: OK" in out.stdout
    out = run("check_data_dir.sh", "--fix", "true", str(bad), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (bad / "text").read_text() == "s1-a A\ns1-b B\n"
    out = run("check_data_dir.sh", "--need", "wav.scp text utt2dur", str(good), cwd=tmp_path)
    assert out.returncode == 1 and "utt2dur: required file missing" in out.stderr


def _score(exp: Path, test_set: str, err: float) -> None:
    d = exp / "decode_speechllm_valid.acc.ave" / test_set / "score_wer"
    d.mkdir(parents=True)
    score = dict(metric="wer", n_utt=2, n_ref=8, corr=100 - err, sub=err, err=err)
    score.update({"del": 0.0, "ins": 0.0, "serr": 50.0})
    (d / "score.json").write_text(json.dumps(score))


def test_show_results_regenerates_results_md(tmp_path):
    for name, err in (("speechllm_a", 25.0), ("speechllm_b", 12.5)):
        exp = tmp_path / "exp" / name
        _score(exp, "test", err)
        (exp / "config.yaml").write_text("encoder: conformer\n")
    (tmp_path / "exp" / "llm").mkdir()  # no scores: not an experiment
    out = run("show_results.sh", "exp", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for name, err in (("speechllm_a", "25.0"), ("speechllm_b", "12.5")):
        md = (tmp_path / "exp" / name / "RESULTS.md").read_text()
        assert f"|decode_speechllm_valid.acc.ave/test|2|8|" in md and f"|{err}|" in md
        assert f"## exp/{name}" in out.stdout
    out = run("show_results.sh", "--out", "ALL.md", "exp/speechllm_a", "exp/speechllm_b/", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    md = (tmp_path / "ALL.md").read_text()
    assert "## exp/speechllm_a" in md and "## exp/speechllm_b" in md
    out = run("show_results.sh", "exp/llm", cwd=tmp_path)
    assert out.returncode == 1 and "no decode_*" in out.stderr
    assert run("show_results.sh", cwd=tmp_path).returncode == 1
