"""A recipe dir in tmp_path that runs the template's speechllm.sh with a stub python, which
records each command line in calls.txt (and fakes the outputs later stages read), so tests
check the stages' wiring and messages, not training."""

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import List

from shell_env import recipe_env

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "egs2" / "TEMPLATE" / "speechllm1"

STUB = r"""#!/usr/bin/env bash
echo "$*" >> calls.txt
out=""; keys=""; prev=""
for a in "$@"; do
    [ "$prev" = --output_dir ] && out=$a; [ "$prev" = --key_file ] && keys=$a; prev=$a
done
case "$*" in
  *speechllm_empty_threshold*) mkdir -p "$out" && echo 0.42 > "$out/empty_threshold" ;;
  *_inference*) mkdir -p "$out/1best_recog"
     for f in text token token_int score; do cut -d' ' -f1 "$keys" | sed 's/$/ X/' > "$out/1best_recog/$f"; done
     case "$*" in *"--on_bad_utt skip"*) echo "u2 u2: no such file" > "$out/bad_utts.txt" ;; esac ;;
  *lm_rescore*) mkdir -p "$out" && echo "u1 X" > "$out/text" ;;
  *) [ -n "$out" ] && mkdir -p "$out" ;;
esac
exit 0
"""


@dataclass
class StubRun:
    returncode: int
    output: str  # stdout + stderr
    calls: List[str]  # the stub's command lines, in order


def make_stub_recipe(tmp_path: Path) -> Path:
    """dump/raw/{train,dev,test}, a token list, conf/train_x.yaml + conf/decode_asr.yaml."""
    for name in ("speechllm.sh", "utils", "path.sh", "cmd.sh"):
        (tmp_path / name).symlink_to(TEMPLATE / name)
    for dset in ("train", "dev", "test"):
        d = tmp_path / "dump" / "raw" / dset
        d.mkdir(parents=True)
        (d / "wav.scp").write_text("u1 a.wav\nu2 b.wav\n")
        (d / "text").write_text("u1 A\nu2 B\n")
    toks = tmp_path / "data" / "token_list" / "hf_bpe500"
    toks.mkdir(parents=True)
    (toks / "tokens.txt").write_text("<pad>\n<s>\n</s>\n<unk>\nA\nB\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "train_x.yaml").write_text("{}\n")
    (tmp_path / "conf" / "decode_asr.yaml").write_text("{}\n")
    (tmp_path / "fakepy").write_text(STUB)
    (tmp_path / "fakepy").chmod(0o755)
    return tmp_path


def run_stub(recipe: Path, *opts: str, check: bool = True) -> StubRun:
    """speechllm.sh stages 10-12 by default; later opts override earlier ones."""
    env = recipe_env()  # path.sh would look for the checkout above tmp_path
    out = subprocess.run(
        ["bash", "speechllm.sh", "--python", "./fakepy", "--stage", "10", "--stop_stage", "12",
         "--train_set", "train", "--valid_set", "dev", "--test_sets", "test", "--nj", "1",
         "--inference_nj", "1", "--llm_vocab_size", "500", "--speechllm_config",
         "conf/train_x.yaml", "--inference_config", "conf/decode_asr.yaml", *opts],
        cwd=recipe, env=env, capture_output=True, text=True,
    )  # fmt: skip
    output = out.stdout + out.stderr
    if check:
        assert out.returncode == 0, output[-4000:]
    calls_file = recipe / "calls.txt"
    calls = calls_file.read_text().splitlines() if calls_file.exists() else []
    return StubRun(out.returncode, output, calls)
