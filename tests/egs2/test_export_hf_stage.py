"""speechllm.sh stage 14 with --export_hf true calls export_hf (python is a stub that
records the commands: this checks the wiring; tests/export runs the export itself)."""

import subprocess
from pathlib import Path

import pytest

from shell_env import recipe_env

TEMPLATE = Path(__file__).resolve().parents[2] / "egs2" / "TEMPLATE" / "speechllm1"
STUB = '#!/usr/bin/env bash\necho "$*" >> calls.txt\n'


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    for name in ("speechllm.sh", "utils", "path.sh", "cmd.sh"):
        (tmp_path / name).symlink_to(TEMPLATE / name)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "train_x.yaml").write_text("{}\n")
    (tmp_path / "fakepy").write_text(STUB)
    (tmp_path / "fakepy").chmod(0o755)
    return tmp_path


def _stage14(recipe: Path, *opts: str) -> list:
    calls = recipe / "calls.txt"
    calls.unlink(missing_ok=True)
    out = subprocess.run(
        ["bash", "speechllm.sh", "--python", "./fakepy", "--stage", "14", "--stop_stage", "14",
         "--train_set", "train", "--valid_set", "dev", "--test_sets", "test",
         "--speechllm_config", "conf/train_x.yaml", *opts],
        cwd=recipe, env=recipe_env(), capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return calls.read_text().splitlines() if calls.exists() else []


def test_export_hf_runs_in_stage_14_with_its_args(recipe):
    exp = "exp/x_scratch_lm_bpe1000"  # speechllm.sh's default tag: <config>_<llm>
    calls = _stage14(recipe, "--export_hf", "true", "--export_hf_args", "--merge_lora true",
                     "--skip_packing", "true")  # fmt: skip
    assert calls == [
        f"-m espnet_speechllm.bin.export_hf --train_config {exp}/config.yaml "
        f"--model_file {exp}/valid.acc.ave.pth --out_dir {exp}/hf --merge_lora true"
    ]
    calls = _stage14(recipe, "--export_hf", "true")  # packing runs by default
    assert [c.split()[1] for c in calls] == [
        "espnet_speechllm.recipe.pack_model",
        "espnet_speechllm.bin.export_hf",
    ]


def test_no_export_by_default(recipe):
    assert [c.split()[1] for c in _stage14(recipe)] == ["espnet_speechllm.recipe.pack_model"]
