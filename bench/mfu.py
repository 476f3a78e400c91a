"""Model FLOP utilisation: counted FLOPs of a training step / step time / measured GEMM peak.

1. Peak: the best FLOP/s of a ``torch.mm`` loop over square sizes (`--gemm_sizes`) in
   the step's dtype on this device, with the same torch threads.
2. FLOPs: counted from the model with ``torch.utils.flop_counter.FlopCounterMode`` over
   forward + backward of the default recipe model (trained weights when present, so
   the CTC compression gives realistic LLM lengths) on a batch of real utterances.
   The AdamW update is timed but its few elementwise FLOPs are not counted.
3. Achieved = FLOPs / step time (forward + backward + AdamW, min of `--steps`);
   MFU = achieved / peak. A profiled step splits the time into GEMM-like kernels
   (mm, addmm, bmm, conv, attention) and the rest, to say what dominates.

Example:
    python -m bench.mfu                    # CPU, ~1 min idle
    python -m bench.mfu --device cuda      # bf16, 7B LoRA, HuBERT-large sizes
"""

import argparse
import sys
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from bench import model_configs as mc
from bench.common import (
    RESULTS,
    cuda_or_skip,
    format_table,
    load_utterances,
    machine_info,
    machine_line,
    median,
    result,
    sync,
    timed,
    write_result,
)

GOAL = 0.40
GEMM_OPS = ("mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "convolution",
            "convolution_backward", "mkldnn_convolution", "_scaled_dot_product")  # fmt: skip


def _cpu_sdpa_flop(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


def _cpu_sdpa_backward_flop(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out, query, key, value)


# NOTE: torch's counter has no formula for the CPU flash-attention kernels that
# F.scaled_dot_product_attention dispatches to on CPU; without these, LLM attention
# would count as 0 FLOPs.
_ATEN = torch.ops.aten
CUSTOM_FLOPS = {
    _ATEN._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flop,
    _ATEN._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_sdpa_backward_flop,
}


def count_flops(fn: Callable[[], Any]) -> Tuple[int, Dict[str, int]]:
    """FLOPs of everything `fn` runs (forward and backward), total and per module.

    >>> lin = torch.nn.Linear(8, 4, bias=False)
    >>> count_flops(lambda: lin(torch.ones(2, 8)).sum().backward())[0]  # 2*2*8*4 fwd + same bwd
    256
    """
    counter = FlopCounterMode(display=False, custom_mapping=CUSTOM_FLOPS)
    with counter:
        fn()
    per_module = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    return counter.get_total_flops(), per_module


def gemm_peak(device: str, dtype: torch.dtype, sizes: Sequence[int], seconds: float = 0.5):
    """Best FLOP/s of ``a @ b`` (n x n) over `sizes`; returns (best, {n: FLOP/s}).

    Each size runs for about `seconds`; its figure is its best >= 20 ms sample.
    """
    per_size = {}
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        a @ b
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        # Samples of >= 20 ms each (many calls for small n): one call's timer noise
        # would otherwise inflate the best rate.
        calls = max(1, int(0.02 / max(time.perf_counter() - start, 1e-9)))
        best, spent = 0.0, 0.0
        while spent < seconds:
            sync(device)
            start = time.perf_counter()
            for _ in range(calls):
                a @ b
            sync(device)
            t = time.perf_counter() - start
            spent += t
            best = max(best, 2 * n**3 * calls / t)
        per_size[n] = best
    return max(per_size.values()), per_size


def time_split(step: Callable[[], Any]) -> Tuple[float, List[Tuple[str, float]]]:
    """Share of profiled self time in GEMM-like ops, and the top other ops (name, s)."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        step()
    gemm, other = 0.0, {}
    for ev in prof.key_averages():
        sec = ev.self_cpu_time_total / 1e6
        name = ev.key.removeprefix("aten::")
        if name in GEMM_OPS or name.startswith("_scaled_dot_product"):
            gemm += sec
        elif ev.key.startswith("aten::"):
            other[ev.key] = other.get(ev.key, 0.0) + sec
    total = gemm + sum(other.values())
    top = sorted(other.items(), key=lambda kv: -kv[1])[:5]
    return gemm / max(total, 1e-12), top


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda without a GPU: skip)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--gemm_sizes", type=int, nargs="+", default=[256, 512, 1024, 2048])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    p.add_argument("--out", default=str(RESULTS / "mfu.json"))
    return p


def build(device: str):
    """(model, dtype, description): the recipe model on CPU, 7B LoRA bf16 on CUDA."""
    if device.startswith("cuda"):
        model = mc.build_model("hubert_large", {}, "stack", dict(stride=4), "7b", "lora", "bfloat16")
        return model, "bfloat16", "HuBERT-large-sized encoder + stack x4 + 7B Llama (LoRA), bf16"
    if mc.trained_available():
        return mc.load_trained(), "float32", f"trained {mc.TRAINED.name} (fp32)"
    return mc.build_model(), "float32", "default recipe model, random weights (fp32)"


def main(argv=None) -> Dict[str, Any]:
    args = get_parser().parse_args(argv)
    if not cuda_or_skip(args.device, "mfu"):
        return {}
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, dtype, what = build(args.device)
    utts = load_utterances(args.batch)
    speech, speech_lens = mc.speech_batch([w for _, w, _ in utts])
    text, text_lens = mc.text_batch(model.decoder.tokenizer, [t for _, _, t in utts])
    batch = dict(speech=speech, speech_lengths=speech_lens, text=text, text_lengths=text_lens)
    step = mc.make_train_step(model, batch, args.device, dtype)
    times = timed(step, args.device, args.steps)
    step_s = min(times)

    dev_batch = {k: v.to(args.device) for k, v in batch.items()}

    def fwd_bwd() -> None:
        with mc.autocast(args.device, dtype):
            loss, _, _ = model(**dev_batch)
        loss.backward()

    flops, per_module = count_flops(fwd_bwd)
    model.zero_grad(set_to_none=True)
    peak, per_size = gemm_peak(args.device, getattr(torch, dtype), args.gemm_sizes)
    # An encoder under model_conf.encoder_autocast runs its GEMMs/convs in that dtype:
    # its peak is the other bound (the LLM stays in `dtype`).
    amp = getattr(model, "encoder_autocast", None)
    from espnet_speechllm.utils.low_precision import native_on

    if amp is not None and not native_on(torch.device(args.device).type, amp, "model_conf.encoder_autocast"):
        amp = None  # the switch fell back to fp32 on this CPU: one peak
    amp_peak = gemm_peak(args.device, amp, args.gemm_sizes)[0] if amp is not None else None
    gemm_share, top_other = time_split(step) if not args.device.startswith("cuda") else (None, [])
    achieved = flops / step_s
    mfu = achieved / peak
    parts = {k.split(".")[-1]: v for k, v in per_module.items() if k.count(".") == 1}

    row = dict(model=what, batch=args.batch, audio_s=float(speech_lens.sum()) / 16000,
               flops_per_step=flops, step_s=step_s, step_median_s=median(times),
               achieved_flops_per_s=achieved, peak_flops_per_s=peak, mfu=mfu,
               gemm_peak_by_size={str(k): v for k, v in per_size.items()},
               flops_by_part=parts, gemm_time_share=gemm_share,
               top_non_gemm_ops=[dict(op=k, s=v) for k, v in top_other])  # fmt: skip
    machine = machine_info(args.device)
    print(machine_line(machine))
    print(f"# model: {what}; batch {args.batch} utterances ({row['audio_s']:.1f} s of audio); "
          f"step = fwd+bwd+AdamW, min of {args.steps}; peak = best torch.mm {dtype} over n in {args.gemm_sizes}")  # fmt: skip
    headers = ["counted GFLOP/step", "step ms", "achieved GFLOP/s", f"GEMM peak {dtype} GFLOP/s"]
    cells = [flops / 1e9, step_s * 1e3, achieved / 1e9, peak / 1e9]
    if amp_peak is not None:
        # The peak of this mix: each part's FLOPs at the peak of the dtype it runs in.
        enc = parts.get("encoder", 0)
        mixed = flops / (enc / amp_peak + (flops - enc) / peak)
        mfu = achieved / mixed
        row.update(encoder_autocast=str(amp), amp_peak_flops_per_s=amp_peak,
                   mixed_peak_flops_per_s=mixed, mfu=mfu)  # fmt: skip
        amp_name = str(amp).split(".")[-1]
        headers += [f"GEMM peak {amp_name} GFLOP/s", f"peak of the mix GFLOP/s"]
        cells += [amp_peak / 1e9, mixed / 1e9]
    headers += ["MFU", f"goal {GOAL:.0%}"]
    cells += [f"{mfu:.1%}", "yes" if mfu >= GOAL else "no"]
    print(format_table(headers, [cells]))
    if amp_peak is not None:
        print(f"# MFU = achieved / peak of the mix: the encoder's {enc / flops:.0%} of the FLOPs at "
              f"the {amp_name} peak, the rest at the {dtype} peak")  # fmt: skip
    print("# GEMM peak by size (GFLOP/s): " + ", ".join(f"{n}: {v / 1e9:.1f}" for n, v in per_size.items()))
    print("# counted FLOPs by part: " + ", ".join(f"{k} {v / flops:.0%}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])))
    if gemm_share is not None:
        gemm_rate = flops / (step_s * gemm_share)
        row["gemm_only_flops_per_s"] = gemm_rate
        print(f"# time split (profiled step): GEMM-like kernels {gemm_share:.0%}, everything else "
              f"{1 - gemm_share:.0%}; top others: " + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in top_other))  # fmt: skip
        if mfu < GOAL:
            bound = row.get("mixed_peak_flops_per_s", peak)
            why = [f"only {gemm_share:.0%} of the step is GEMM work; the rest is elementwise/"
                   "normalisation/copy/optimizer ops that do no counted FLOPs but stream memory"]  # fmt: skip
            if gemm_rate / bound < 0.8:
                why.append(f"the GEMMs themselves run at ~{gemm_rate / 1e9:.1f} GFLOP/s ({gemm_rate / bound:.0%} "
                           "of the peak): small matrices (d_model 128 encoder / 256 LLM, ~8 x 40-60 "
                           "frames) give too little work per call to amortise threading and packing")  # fmt: skip
            print("# below the goal because: " + "; ".join(f"({i}) {w}" for i, w in enumerate(why, 1)))
    write_result(result("mfu", machine, [row], config=vars(args)), args.out)
    return row


if __name__ == "__main__":
    main()
