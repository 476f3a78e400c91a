"""scripts/run_ablation.sh with a stub run.sh: which systems run how, and the one table."""

import json
import subprocess
from pathlib import Path

from shell_env import recipe_env

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "egs2" / "TEMPLATE" / "speechllm1"

# Records its arguments; stage 11 leaves a model, stage 13 a WER score (e1 fails training).
STUB = r"""#!/usr/bin/env bash
echo "$*" >> calls.txt
get() { local prev=""; for a in "$@"; do [ "$prev" = "$KEY" ] && echo "$a"; prev=$a; done; }
stage=$(KEY=--stage get "$@" | tail -n 1); tag=$(KEY=--speechllm_tag get "$@" | tail -n 1)
cfg=$(KEY=--inference_config get "$@" | tail -n 1); itag=decode_speechllm_valid.acc.ave
[ "$cfg" = conf/decode_asr.yaml ] && itag=decode_asr_valid.acc.ave
case "$stage" in
  10) d=$(KEY=--speechllm_stats_dir get "$@"); mkdir -p $d/train && touch $d/train/feats_stats.npz ;;
  11) [ "$tag" = abl_e1 ] && exit 1
      mkdir -p exp/$tag && touch exp/$tag/valid.acc.ave.pth
      printf 'Total Number of model parameters: 1.00 M\n# Ended (code 0) at now, elapsed time 42 seconds\n' \
        > exp/$tag/train.log ;;
  13) for t in $itag $itag${cfg:+_llmrescore0.3}; do
        [ "$t" = decode_speechllm_valid.acc.ave_llmrescore0.3 ] && continue
        mkdir -p exp/$tag/$t/test/score_wer
        echo '{"metric": "wer", "n_utt": 2, "n_ref": 8, "err": 50.0, "sub": 25.0, "del": 25.0, "ins": 0.0}' \
          > exp/$tag/$t/test/score_wer/score.json
      done ;;
esac
"""


def test_run_ablation_runs_systems_and_writes_one_table(tmp_path):
    (tmp_path / "path.sh").symlink_to(TEMPLATE / "path.sh")
    (tmp_path / "run.sh").write_text(STUB)
    (tmp_path / "run.sh").chmod(0o755)
    env = recipe_env()
    out = subprocess.run(
        ["bash", str(TEMPLATE / "scripts" / "run_ablation.sh"), "--systems", "e3 e1 e4 e6 b1",
         "--train_subset", "0", "--max_epoch", "2", "--ngpu", "0"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls[0].startswith("--stage 10 --stop_stage 10 --train_set train ")
    train = {c.split("--speechllm_tag ")[1].split()[0]: c for c in calls if c.startswith("--stage 11")}
    assert set(train) == {"abl_e3", "abl_e1", "abl_e4", "abl_b1"}  # e6 lacks its stage A (e5)
    assert "--speechllm_args --max_epoch 2 --ngpu 0" in train["abl_e3"]
    assert "--max_epoch 2 --init_param exp/abl_e3/valid.acc.ave.pth" in train["abl_e4"]
    assert "conf/tuning/train_speechllm_conformer_ctcavg_loralm.yaml" in train["abl_e4"]
    assert "--model_type seq2seq" in train["abl_b1"] and "--llm_rescore_weight 0.3" in train["abl_b1"]
    assert "e6: stage A exp/abl_e5/valid.acc.ave.pth missing" in out.stdout
    assert "e1: FAILED" in out.stdout
    table = (tmp_path / "exp" / "abl" / "RESULTS.md").read_text()
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("|") and "---" not in line]
    assert rows == ["system", "E3", "E4", "B1", "B2"]
    assert "|abl_b1/decode_asr_valid.acc.ave_llmrescore0.3/test|2|8|50.0|25.0|25.0|0.0|" in table
    for tag in ("abl_e3", "abl_e4", "abl_b1"):
        assert (tmp_path / "exp" / tag / "train_time").read_text() == "42\n"  # from train.log
        assert (tmp_path / "exp" / tag / "decode_time").read_text().strip().isdigit()
    assert "|E3|abl_e3/decode_speechllm_valid.acc.ave/test|2|8|50.0|25.0|25.0|0.0|-|1.00 M (?)|42|" in table

    # A second run neither retrains (train_time) nor re-decodes (decode_time) a scored system,
    # and still lists it in the table; deleting decode_time decodes and scores it again.
    def rerun() -> list:
        (tmp_path / "calls.txt").unlink(missing_ok=True)
        out = subprocess.run(
            ["bash", str(TEMPLATE / "scripts" / "run_ablation.sh"), "--systems", "e3",
             "--train_subset", "0"], cwd=tmp_path, env=env, capture_output=True, text=True,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        calls = tmp_path / "calls.txt"
        return [c.split()[1] for c in calls.read_text().splitlines()] if calls.exists() else []

    assert rerun() == []
    assert "|E3|abl_e3/" in (tmp_path / "exp" / "abl" / "RESULTS.md").read_text()
    (tmp_path / "exp" / "abl_e3" / "decode_time").unlink()
    assert rerun() == ["12", "13"]
    assert (tmp_path / "exp" / "abl_e3" / "decode_time").read_text().strip().isdigit()


def test_run_ablation_stride_systems_and_ctc_pretraining(tmp_path):
    (tmp_path / "path.sh").symlink_to(TEMPLATE / "path.sh")
    (tmp_path / "run.sh").write_text(STUB)
    (tmp_path / "run.sh").chmod(0o755)
    env = recipe_env()
    out = subprocess.run(
        ["bash", str(TEMPLATE / "scripts" / "run_ablation.sh"), "--systems", "s80f s240l e3 dec",
         "--train_subset", "0", "--max_epoch", "2", "--ctc_pretrain", "true"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    train = {c.split("--speechllm_tag ")[1].split()[0]: c for c in calls if c.startswith("--stage 11")}
    stride_conf = "conf/tuning/train_speechllm_conformer80ms_stack_frozenlm.yaml"
    ctc80 = "--ctc_pretrain_config conf/tuning/train_ctc_conformer80ms.yaml --ctc_pretrain_exp exp/abl_ctc_conformer80ms"
    assert stride_conf in train["abl_s80f"] and ctc80 in train["abl_s80f"]
    assert "--speechllm_args --max_epoch 2 --compressor_conf stride=1 " in train["abl_s80f"] + " "
    assert "mode=lora" not in train["abl_s80f"]
    assert "--max_epoch 2 --compressor_conf stride=3 --decoder_conf mode=lora" in train["abl_s240l"]
    assert ctc80 in train["abl_s240l"]
    ctc60 = "--ctc_pretrain_config conf/tuning/train_ctc_conformer.yaml --ctc_pretrain_exp exp/abl_ctc_conformer"
    assert ctc60 in train["abl_e3"]
    assert "--ctc_pretrain_config" not in train["abl_dec"]  # decoder-only is from scratch
    # Stage 9 (CTC pre-training; it skips a finished one) runs right before each such training.
    pre = [c.split("--speechllm_tag ")[1].split()[0] for c in calls if c.startswith("--stage 9 --stop_stage 9 ")]
    assert pre == ["abl_s80f", "abl_s240l", "abl_e3"]
    assert all(ctc80 in c for c in calls if c.startswith("--stage 9 ") and "--speechllm_tag abl_s" in c)
    table = (tmp_path / "exp" / "abl" / "RESULTS.md").read_text()
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("|") and "---" not in line]
    assert rows == ["system", "S80F", "S240L", "E3", "DEC"]
