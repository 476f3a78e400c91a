#!/usr/bin/env python3
"""Peak RSS of one short training run with the LLM frozen, LoRA-adapted or fully trained.

Builds everything it needs in a temporary directory: Kaldi dirs over mini_an4's
wavs, shape files, a byte-level BPE tokenizer on its transcripts, and a random
Llama (hidden 512, 4 layers, the tokenizer's vocabulary) saved as a local HF
directory. Then, per mode, one ``speechllm_train`` subprocess trains 1 epoch of
the tiny speech side on top of that LLM; its peak RSS comes from ``os.wait4``
(the child's own rusage, unlike RUSAGE_CHILDREN, which keeps the maximum over all
children so far).

Example:
    .venv/bin/python bench/train_peak_rss.py
    .venv/bin/python bench/train_peak_rss.py --mini_an4 /data/mini_an4 --threads 2
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from tiny import tiny_train_config, train_cmd  # noqa: E402  (the tests' tiny model)
MODES = ("frozen", "lora", "full")
LLAMA = dict(
    hidden_size=512,
    intermediate_size=1376,
    num_hidden_layers=4,
    num_attention_heads=8,
    num_key_value_heads=8,
    max_position_embeddings=1024,
)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mini_an4",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "mini_an4",
        help="Directory with utterances.tsv and wav16k/ (default: ../shared/data/mini_an4)",
    )
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--workdir", type=Path, default=None, help="Keep files here")
    return parser


def prepare(mini_an4: Path, work: Path) -> dict:
    """Kaldi dirs, shape files, tokenizer, token list and random LLM under ``work``."""
    import soundfile
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from espnet_speechllm.llm.train_tokenizer import export_token_list, train_tokenizer

    with open(mini_an4 / "utterances.tsv", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f, delimiter="\t"), key=lambda r: r["utt_id"])
    tok_dir = work / "tokenizer"
    texts = [r["text"] for r in rows] * 4 + ["TRANSCRIBE THE AUDIO"]
    train_tokenizer(texts, 320, str(tok_dir))
    export_token_list(str(tok_dir), str(tok_dir / "tokens.txt"))
    tok = AutoTokenizer.from_pretrained(tok_dir)

    for split, stats_split in (("train", "train"), ("test", "valid")):
        d = work / "data" / split
        d.mkdir(parents=True)
        shapes = work / "stats" / stats_split
        shapes.mkdir(parents=True)
        sel = [r for r in rows if r["split"] == split]
        wavs = {r["utt_id"]: mini_an4 / r["wav"] for r in sel}
        (d / "wav.scp").write_text("".join(f"{k} {p}\n" for k, p in wavs.items()))
        (d / "text").write_text("".join(f"{r['utt_id']} {r['text']}\n" for r in sel))
        (shapes / "speech_shape").write_text(
            "".join(f"{k} {soundfile.info(str(p)).frames}\n" for k, p in wavs.items())
        )
        (shapes / "text_shape").write_text(
            "".join(
                f"{r['utt_id']} {len(tok(r['text'], add_special_tokens=False).input_ids)}\n"
                for r in sel
            )
        )

    torch.manual_seed(0)
    config = AutoConfig.for_model(
        "llama",
        vocab_size=len(tok),
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        **LLAMA,
    )
    llm_dir = work / "llm"
    AutoModelForCausalLM.from_config(config).save_pretrained(llm_dir)
    tok.save_pretrained(llm_dir)
    return dict(tokenizer=tok_dir, llm=llm_dir, data=work / "data", stats=work / "stats")


def train_config(paths: dict, mode: str) -> dict:
    """The tests' tiny speech side (tests/tiny.py) on top of the random LLM."""
    conf = tiny_train_config(
        paths["tokenizer"], mode=mode, config=None, model_name_or_path=str(paths["llm"]),
        lora_conf=dict(r=8, lora_alpha=16),
    )  # fmt: skip
    # One process (num_workers 0): its rusage is the whole run.
    conf.update(max_epoch=1, use_matplotlib=False, num_workers=0)
    return conf


def run_mode(paths: dict, mode: str, work: Path, threads: int) -> dict:
    """Train one epoch in a subprocess; returns its peak RSS (MiB) and outputs."""
    import yaml

    config = work / f"train_{mode}.yaml"
    config.write_text(yaml.safe_dump(train_config(paths, mode)))
    out = work / f"exp_{mode}"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    log = work / f"train_{mode}.log"
    start = time.time()
    with open(log, "w") as f:
        cmd = [sys.executable, "-m", "espnet_speechllm.bin.speechllm_train"]
        cmd += train_cmd(config, paths["data"], out, paths["stats"])
        proc = subprocess.Popen(cmd, stdout=f, stderr=f, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-20:])
        raise RuntimeError(f"{mode}: training failed (rc={proc.returncode}), see {log}:\n{tail}")
    return dict(
        rss_mib=usage.ru_maxrss / 1024,  # Linux reports KiB
        seconds=time.time() - start,
        config=config,
        checkpoint=out / "1epoch.pth",
    )


def trainable_params(config: Path) -> int:
    """Parameters with requires_grad in the model that this config builds."""
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    args = SpeechLLMTask.get_parser().parse_args(["--config", str(config), "--output_dir", "-"])
    model = SpeechLLMTask.build_model(args)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def main(cmd=None) -> list:
    args = get_parser().parse_args(cmd)
    if not (args.mini_an4 / "utterances.tsv").exists():
        sys.exit(f"mini_an4 not found at {args.mini_an4} (use --mini_an4 PATH)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    sys.path.insert(0, str(ROOT))
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    with tempfile.TemporaryDirectory(prefix="peak_rss_") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        paths = prepare(args.mini_an4, work)
        rows = []
        for mode in args.modes:
            res = run_mode(paths, mode, work, args.threads)
            res.update(
                mode=mode,
                trainable=trainable_params(res["config"]),
                ckpt_mib=res["checkpoint"].stat().st_size / 2**20,
            )
            rows.append(res)
            print(f"{mode}: {res['rss_mib']:.0f} MiB peak RSS in {res['seconds']:.0f} s", file=sys.stderr)
    full = next((r["rss_mib"] for r in rows if r["mode"] == "full"), None)
    print(
        f"\nrandom Llama: hidden {LLAMA['hidden_size']}, {LLAMA['num_hidden_layers']} layers; "
        f"1 epoch on mini_an4's train split, CPU, {args.threads} thread(s)"
    )
    print(f"| {'mode':6} | {'peak RSS MiB':>12} | {'vs full':>7} | {'trainable params':>16} | {'checkpoint MiB':>14} |")
    print(f"|{'-' * 8}|{'-' * 13}:|{'-' * 8}:|{'-' * 17}:|{'-' * 15}:|")
    for r in rows:
        ratio = f"{r['rss_mib'] / full:.2f}" if full else "-"
        print(
            f"| {r['mode']:6} | {r['rss_mib']:12.0f} | {ratio:>7} | {r['trainable']:16,d} | "
            f"{r['ckpt_mib']:14.2f} |"
        )
    return rows


if __name__ == "__main__":
    main()
