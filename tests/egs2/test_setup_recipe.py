"""egs2/TEMPLATE/speechllm1/setup.sh makes a recipe dir a new user can run, and speechllm.sh
names every config a run needs before stage 1 when one is missing."""

import subprocess
from pathlib import Path

import pytest

from shell_env import recipe_env
from stub_recipe import make_stub_recipe, run_stub

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "egs2" / "TEMPLATE" / "speechllm1" / "setup.sh"


def sh(cmd, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, env=recipe_env(), capture_output=True, text=True)


@pytest.fixture
def new_recipe(tmp_path) -> Path:
    out = sh(f"{SETUP} egs2/mycorpus/speechllm1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Next: fill in egs2/mycorpus/speechllm1/local/data.sh" in out.stdout
    return tmp_path / "egs2" / "mycorpus" / "speechllm1"


def test_setup_links_the_template_and_copies_every_default_config(new_recipe, tmp_path):
    for name in ("speechllm.sh", "utils", "scripts", "path.sh", "cmd.sh"):
        assert (new_recipe / name).is_symlink() and (new_recipe / name).exists(), name
    conf = new_recipe / "conf"
    for name in ("train_speechllm.yaml", "train_lm.yaml", "decode_speechllm.yaml",
                 "decode_speechllm_greedy.yaml", "tuning/train_speechllm_whisper_smollm2_lora.yaml"):  # fmt: skip
        assert (conf / name).is_file(), name
    assert not (conf / "train_lm.yaml").is_symlink()  # a copy: the user's to edit
    run_sh = (new_recipe / "run.sh").read_text()
    for ref in ("conf/train_lm.yaml", "conf/train_speechllm.yaml", "conf/decode_speechllm.yaml"):
        assert ref in run_sh and (new_recipe / ref).is_file()
    out = sh(f"{SETUP} egs2/mycorpus/speechllm1", cwd=tmp_path)
    assert out.returncode == 1 and "already exists" in out.stderr


def test_new_recipe_stage_1_says_what_data_to_write_then_checks_it(new_recipe, make_data_dir):
    out = sh("./run.sh --stage 1 --stop_stage 1", cwd=new_recipe)
    assert out.returncode == 1
    assert "data/train is missing: write it here" in out.stderr
    for name in ("train", "dev", "test"):
        make_data_dir({f"{name}-1": ("HELLO", "s1", 1600), f"{name}-2": ("", "s1", 800)},
                      f"egs2/mycorpus/speechllm1/data/{name}")  # fmt: skip
    out = sh("./run.sh --stage 1 --stop_stage 1", cwd=new_recipe)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "kept 1, dropped 1" in out.stdout  # the empty transcript
    assert "Successfully finished" in out.stdout


@pytest.mark.parametrize(
    "remove, opts, says",
    [
        ("conf/train_x.yaml", ("--stage", "10", "--stop_stage", "11"),
         "conf/train_x.yaml (--speechllm_config, stage 10); conf/train_x.yaml (--speechllm_config, stage 11)"),
        ("conf/decode_asr.yaml", ("--stage", "12", "--stop_stage", "12"),
         "conf/decode_asr.yaml (--inference_config, stage 12)"),
        (None, ("--stage", "1", "--stop_stage", "1"), "local/data.sh (stage 1)"),
        (None, ("--stage", "7", "--stop_stage", "7", "--lm_config", "conf/lm.yaml"),
         "conf/lm.yaml (--lm_config, stage 7)"),
    ],
)
def test_missing_configs_are_named_before_any_stage(tmp_path, remove, opts, says):
    recipe = make_stub_recipe(tmp_path)
    if remove:
        (recipe / remove).unlink()
    out = run_stub(recipe, *opts, check=False)
    assert out.returncode == 2, out.output[-2000:]
    assert f"Error: missing file(s) that this run needs: {says}" in out.output
    assert "setup.sh DIR" in out.output
    assert out.calls == []


def test_a_pretrained_llm_needs_no_lm_config(tmp_path):
    recipe = make_stub_recipe(tmp_path)
    (recipe / "llm").mkdir()
    out = run_stub(recipe, "--stage", "7", "--stop_stage", "7", "--llm", "llm", "--lm_config", "conf/lm.yaml")
    assert "missing file" not in out.output
