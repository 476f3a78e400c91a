"""egs2/TEMPLATE/speechllm1/{utils/*.sh, path.sh, cmd.sh}, run through bash."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "egs2" / "TEMPLATE" / "speechllm1"

SCRIPT = """\
set -euo pipefail
nj=4
use_lm=false
inference_config=
help_message="Usage: $0 [options] <dir>"
. {utils}/parse_options.sh
echo "nj=$nj use_lm=$use_lm inference_config=$inference_config rest=$*"
"""


def bash(script: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        ["bash", "-c", script, "myscript.sh", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


def parse(*args: str) -> subprocess.CompletedProcess:
    return bash(SCRIPT.format(utils=TEMPLATE / "utils"), *args)


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], "nj=4 use_lm=false inference_config= rest="),
        (["--nj", "8", "a", "b"], "nj=8 use_lm=false inference_config= rest=a b"),
        (
            ["--nj=8", "--use-lm", "true", "a"],
            "nj=8 use_lm=true inference_config= rest=a",
        ),
        (
            ["--inference_config", "conf/x y.yaml"],
            "nj=4 use_lm=false inference_config=conf/x y.yaml rest=",
        ),
        (
            ["--inference_config=", "--", "--nj"],
            "nj=4 use_lm=false inference_config= rest=--nj",
        ),
    ],
)
def test_parse_options_sets_existing_variables(args, expected):
    out = parse(*args)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


@pytest.mark.parametrize(
    "args, message",
    [
        (["--njobs", "3"], "myscript.sh: unknown option --njobs"),
        (["--bad.name=1"], "unknown option --bad.name"),
        (["--use_lm", "maybe"], "option --use_lm takes true or false, got 'maybe'"),
        (["--nj"], "option --nj needs a value"),
    ],
)
def test_parse_options_errors_name_the_option(args, message):
    out = parse(*args)
    assert out.returncode == 1
    assert message in out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_parse_options_help(flag):
    out = parse("--nj", "2", flag)
    assert out.returncode == 0
    assert out.stdout.strip() == "Usage: myscript.sh [options] <dir>"


def test_wrappers_run_the_python_modules(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    (d / "wav.scp").write_text("u1 /no/such.wav\n")
    (d / "text").write_text("u1 HI\n")
    out = bash(f"utils/validate_data_dir.sh {d}", cwd=TEMPLATE)
    assert out.returncode == 1
    assert "wav.scp:1: utt 'u1': audio file not found" in out.stderr
    (tmp_path / "k.scp").write_text("a 1\nb 2\nc 3\n")
    out = bash(
        f"utils/split_scp.sh {tmp_path / 'k.scp'} 2 {tmp_path / 'k'}", cwd=TEMPLATE
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "k.2").read_text() == "c 3\n"
    script = f". ./cmd.sh; $train_cmd JOB=1:2 {tmp_path}/log.JOB echo hi JOB"
    out = bash(script, cwd=TEMPLATE)
    assert out.returncode == 0, out.stderr
    assert "hi 2" in (tmp_path / "log.2").read_text()
    out = bash(f"utils/fix_data_dir.sh {d}", cwd=TEMPLATE)
    assert out.returncode == 1 and "would drop every utterance" in out.stderr


def test_path_sh_environment():
    script = (
        "unset HF_HUB_OFFLINE; . ./path.sh; "
        'echo "$MAIN_ROOT|$LC_ALL|$HF_HUB_OFFLINE|$PYTHONUNBUFFERED"; echo "$PATH"; '
        'echo "$PYTHONPATH"; command -v sclite || true'
    )
    out = bash(script, cwd=TEMPLATE)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"{ROOT}|C|1|1"
    assert "/usr/lib/sctk/bin" in lines[1].split(":")
    assert lines[2].split(":")[0] == str(ROOT)
    out = bash('HF_HUB_OFFLINE=0; . ./path.sh; echo "$HF_HUB_OFFLINE"', cwd=TEMPLATE)
    assert out.stdout.strip() == "0"
