"""Training step time and peak memory of trained systems, side by side in one run.

Each ``--exp`` is a recipe experiment (its ``config.yaml`` holds every resolved
path: LLM, encoder weights, token list, feature stats). Each is built in its own
subprocess, so that its peak RSS is its own, and times forward + backward +
AdamW on the same batch of real utterances (the exp's trained weights when its
``--model`` file exists; the speed does not depend on them, the LLM prefix
length of a CTC compressor does). Run from the repository root::

    python -m bench.train_step --exp exp/speechllm_conformer_ctc_scratchlm \\
        exp/whisper_smollm2_lora --batch 8

Reports: total / trainable parameters, LLM input length (prefix + text), step
time (min and median of ``--steps``), utterances per second, and the process's
peak RSS (``ru_maxrss``: model, optimizer state and activations together).
"""

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from bench.common import (
    RECIPE,
    RESULTS,
    format_table,
    load_utterances,
    machine_info,
    machine_line,
    median,
    result,
    timed,
    write_result,
)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", default=str(RECIPE), help="recipe dir; --exp and --data are inside")
    p.add_argument("--exp", nargs="+", required=True, help="experiment dirs with config.yaml")
    p.add_argument("--model", default="valid.acc.ave.pth", help="weights inside each exp (optional)")
    p.add_argument("--data", default="dump/raw/test", help="Kaldi dir: the first --batch utterances")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--out", default=str(RESULTS / "train_step.json"))
    p.add_argument("--worker_out", help=argparse.SUPPRESS)
    return p


def measure(exp: Path, model_file: str, data: Path, batch: int, steps: int) -> Dict:
    """Build ``exp``'s model, time ``steps`` training steps; the worker's row."""
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask
    from bench.model_configs import make_train_step, speech_batch, text_batch

    weights = exp / model_file
    model, _ = SpeechLLMTask.build_model_from_file(
        exp / "config.yaml", weights if weights.exists() else None, "cpu"
    )
    utts = load_utterances(batch, data)
    speech, speech_lens = speech_batch([w for _, w, _ in utts])
    text, text_lens = text_batch(model.decoder.tokenizer, [t for _, _, t in utts])
    step = make_train_step(
        model, dict(speech=speech, speech_lengths=speech_lens, text=text, text_lengths=text_lens), "cpu"
    )
    stats = step()
    times = timed(step, "cpu", steps, warmup=0)
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    prefix = float(stats["prefix_length"]) if "prefix_length" in stats else float("nan")
    return dict(
        exp=exp.name,
        weights=str(weights) if weights.exists() else "random",
        params_m=params / 1e6,
        trainable_m=trainable / 1e6,
        llm_input_len=prefix + float(text_lens.float().mean()) + 1,
        step_s=min(times),
        step_median_s=median(times),
        utts_per_s=batch / min(times),
        audio_s=float(speech_lens.sum()) / 16000,
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


def spawn(exp: str, args: argparse.Namespace, tmp: Path) -> Dict:
    out = tmp / "row.json"
    cmd = [sys.executable, "-m", "bench.train_step", "--recipe", args.recipe, "--exp", exp,
           "--model", args.model, "--data", args.data, "--batch", str(args.batch),
           "--steps", str(args.steps), "--threads", str(args.threads), "--worker_out", str(out)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))  # fmt: skip
    print(f"# measuring {exp} ...", flush=True)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise RuntimeError(f"{exp}: worker failed with exit code {proc.returncode}")
    return json.loads(out.read_text())


def main(argv: Optional[Sequence[str]] = None) -> List[Dict]:
    args = get_parser().parse_args(argv)
    args.out = str(Path(args.out).resolve())
    os.chdir(args.recipe)  # configs hold recipe-relative paths
    torch.set_num_threads(args.threads)
    if args.worker_out:
        (exp,) = args.exp
        with contextlib.redirect_stdout(sys.stderr):
            row = measure(Path(exp), args.model, Path(args.data), args.batch, args.steps)
        Path(args.worker_out).write_text(json.dumps(row))
        return [row]
    for exp in args.exp:
        if not (Path(exp) / "config.yaml").exists():
            raise FileNotFoundError(f"--exp {exp}: no config.yaml in {Path(args.recipe) / exp}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [spawn(exp, args, Path(tmp)) for exp in args.exp]
    machine = machine_info()
    print(machine_line(machine))
    print(f"# batch: the first {args.batch} utterances of {args.data}; step = fwd+bwd+AdamW, "
          f"min / median of {args.steps}; peak RSS = the worker process's ru_maxrss")  # fmt: skip
    base = rows[0]["step_s"]
    print(format_table(
        ["exp", "params M", "trainable M", "LLM input len", "step s", "median s", "utts/s",
         "peak RSS MiB", f"step vs {rows[0]['exp']}"],
        [[r["exp"], round(r["params_m"], 2), round(r["trainable_m"], 2), round(r["llm_input_len"], 1),
          r["step_s"], r["step_median_s"], r["utts_per_s"], round(r["peak_rss_mib"]),
          f"{r['step_s'] / base:.2f}x"] for r in rows],
    ))  # fmt: skip
    write_result(result("train_step", machine, rows, config=vars(args)), args.out)
    return rows


if __name__ == "__main__":
    main()
