"""bench/gpu_check: the --tiny CPU run prints its table, and without CUDA it skips (exit 0)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from bench import gpu_check

ROOT = Path(__file__).resolve().parents[2]


def test_tiny_run_prints_train_and_decode_rows(tmp_path, capsys):
    out = tmp_path / "gpu_check.json"
    assert gpu_check.main(["--tiny", "--steps", "1", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = [ln for ln in lines if ln.startswith("| phase")]
    assert header == ["| " + " | ".join(gpu_check.COLUMNS) + " |"]
    cells = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]]
             for ln in lines if ln.startswith("| train") or ln.startswith("| decode")}  # fmt: skip
    col = {name: i - 1 for i, name in enumerate(gpu_check.COLUMNS)}
    train, dec = cells["train"], cells["decode"]
    assert float(train[col["step s"]]) > 0 and float(train[col["tokens/s"]]) > 0
    assert 0 < float(train[col["MFU"]].rstrip("%")) < 100
    assert float(dec[col["RTFx"]]) > 0 and int(dec[col["LLM tokens"]]) > 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["phase"] for r in rows] == ["train", "decode"]
    # LLM tokens = batch x (audio prefix + text + eos), the text 6 tokens per 1 s utterance
    assert rows[0]["llm_tokens"] > 2 * (6 + 1) and rows[1]["rtfx"] > 0


def test_without_cuda_prints_skip_and_exits_0(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SKIP gpu_check:") and "| phase" not in out


def test_shell_script_skips_without_cuda():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh")], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("SKIP gpu_check:")


def test_full_sizes_build_on_the_meta_device(tmp_path):
    """The GPU run's config, built without memory: a LLaMA-7B-sized base in bf16, LoRA and
    the speech side trained in fp32."""
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    tok = gpu_check._tokenizer(tmp_path / "tok", 300)
    args = gpu_check.train_args(gpu_check.SIZES["full"], tok, "bfloat16", False)
    with torch.device("meta"):
        model = SpeechLLMTask.build_model(args)
    llm = sum(p.numel() for p in model.decoder.parameters() if not p.requires_grad)
    assert 6.7e9 < llm < 6.8e9  # LLaMA-7B: 6.74 B
    assert model.decoder.input_embeddings.weight.dtype == torch.bfloat16
    trained = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert all(p.dtype == torch.float32 for p in trained.values())
    lora = sum(p.numel() for n, p in trained.items() if "lora_" in n)
    assert lora == 32 * 4 * 16 * (4096 + 4096)  # r 16 on q/k/v/o of 32 layers
    assert model.encoder.output_size() == 384 and model.encoder_autocast == torch.bfloat16
