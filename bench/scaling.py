"""Decode time and peak memory against audio length and against LLM size.

Audio: real utterances (the espeak_en test set, else mini_an4) concatenated and cut
to 5, 10, 20, 40 s. The model is the default recipe model (trained when present).
Greedy decoding with the KV cache generates exactly as many tokens as the test set
has per second of audio (eos suppressed, `max_new_tokens` reached), so every row does
the same work whatever the weights say. Time: min of `--repeats`; memory: growth
of the process RSS during one decode (CPU; rows run from small to large) or the
peak allocated CUDA memory.

LLM sizes: random-weight Llamas ("default" = the recipe's 4 x 256, "135m" and
"360m" = SmolLM2-135M/-360M shapes with their 49k vocabulary) behind the trained
speech side (frontend, encoder, CTC compressor) on `--size_seconds` of audio.

Example:
    python -m bench.scaling                                   # CPU, ~3 min idle
    python -m bench.scaling --seconds 5 10 20 40 80 --sizes default 135m 360m
    python -m bench.scaling --device cuda                     # bf16; adds 7b (LoRA)
"""

import argparse
import math
import sys
from typing import Any, Dict, List

import torch

from bench import model_configs as mc
from bench.common import (
    RESULTS,
    PeakMemory,
    cuda_or_skip,
    format_table,
    load_utterances,
    machine_info,
    machine_line,
    result,
    sync,
    timed,
    write_result,
)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda without a GPU: skip)")
    p.add_argument("--seconds", type=float, nargs="+", default=[5, 10, 20, 40])
    p.add_argument("--sizes", nargs="+", default=None, choices=sorted(mc.LLM_SIZES),
                   help="default: default 135m 360m (CPU), + 7b (CUDA)")  # fmt: skip
    p.add_argument("--size_seconds", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=2, help="timed decodes per length")
    p.add_argument("--size_repeats", type=int, default=1, help="timed decodes per LLM size")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    p.add_argument("--out", default=str(RESULTS / "scaling.json"))
    return p


def long_audio(utts, seconds: float, fs: int = 16000) -> torch.Tensor:
    """Utterances end to end (cycling) and cut to `seconds`.  -> (seconds * fs,)"""
    need = int(seconds * fs)
    if need <= 0:
        raise ValueError(f"audio length must be > 0 s, got {seconds}")
    pieces, have, i = [], 0, 0
    while have < need:
        wav = utts[i % len(utts)][1]
        pieces.append(wav)
        have += wav.numel()
        i += 1
    return torch.cat(pieces)[:need]


def tokens_per_second(tokenizer, utts, fs: int = 16000) -> float:
    """LLM tokens of the transcripts per second of their audio."""
    n_tok = sum(len(tokenizer(t, add_special_tokens=False).input_ids) for _, _, t in utts)
    return n_tok / (sum(w.numel() for _, w, _ in utts) / fs)


def decoder(model, device: str, dtype: str):
    """A closure decoding one waveform with a fixed number of new tokens; returns stats."""

    @torch.no_grad()
    def run(wav: torch.Tensor, n_new: int) -> Dict[str, Any]:
        speech = wav[None].to(device)
        lens = torch.tensor([wav.numel()], device=device)
        with mc.autocast(device, dtype):
            audio, audio_lens = model.encode(speech, lens)
            prefix, plens = model.build_prefix(audio, audio_lens, False)
            sync(device)
            # eos suppressed: exactly n_new tokens whatever the (random) weights say
            eos = model.decoder.eos
            hyps = model.decoder.generate(prefix, plens, max_new_tokens=n_new, suppress_tokens=[eos])
        ids = hyps[0][0][0]  # utterance 0, 1-best, token ids
        if len(ids) != n_new:
            raise RuntimeError(f"asked for {n_new} new tokens, generate gave {len(ids)}")
        return dict(prefix=int(plens[0]), generated=len(ids))

    return run


def measure(model, wav, n_new: int, device: str, dtype: str, repeats: int) -> Dict[str, Any]:
    model.to(device).eval()
    run = decoder(model, device, dtype)
    with PeakMemory(device) as mem:
        info = run(wav, n_new)
    sec = min(timed(lambda: run(wav, n_new), device, repeats, warmup=0))
    enc = min(timed(lambda: model.encode(wav[None].to(device), torch.tensor([wav.numel()], device=device)),
                    device, repeats, warmup=0))  # fmt: skip
    audio_s = wav.numel() / 16000
    return dict(audio_s=audio_s, **info, decode_s=sec, encode_s=enc, rtf=sec / audio_s,
                tokens_per_s=info["generated"] / sec, peak_mem_mib=mem.mib)  # fmt: skip


def main(argv=None) -> Dict[str, List[Dict[str, Any]]]:
    args = get_parser().parse_args(argv)
    if not cuda_or_skip(args.device, "scaling"):
        return {}
    if args.threads:
        torch.set_num_threads(args.threads)
    gpu = args.device.startswith("cuda")
    sizes = args.sizes or (["default", "135m", "360m"] + (["7b"] if gpu else []))
    dtype = "bfloat16" if gpu else "float32"
    torch.manual_seed(0)
    utts = load_utterances(200)
    if gpu:
        base = mc.build_model("hubert_large", {}, "stack", dict(stride=4), "7b", "lora", dtype)
        what = "HuBERT-large-sized encoder + stack x4 + 7B Llama (LoRA), bf16, random weights"
    elif mc.trained_available():
        base, what = mc.load_trained(), f"trained {mc.TRAINED.name}"
    else:
        base, what = mc.build_model(), "default recipe model, random weights"
    rate = tokens_per_second(base.decoder.tokenizer, utts)

    by_length = []
    for sec in sorted(args.seconds):
        n_new = math.ceil(rate * sec)
        by_length.append(measure(base, long_audio(utts, sec), n_new, args.device, dtype, args.repeats))
        print(f"# {sec:g} s: {by_length[-1]['decode_s']:.2f} s", file=sys.stderr)
    del base

    by_size = []
    trained = mc.load_trained() if (mc.trained_available() and not gpu) else None
    wav = long_audio(utts, args.size_seconds)
    for size in sizes:
        comp_conf = dict(mode="frame_averaging")
        if trained is not None:
            comp_conf["vocab_size"] = trained.compressor.vocab_size
        enc = "hubert_large" if gpu else "default"
        comp = "stack" if gpu else "ctc"
        comp_conf = dict(stride=4) if gpu else comp_conf
        model = mc.build_model(enc, {}, comp, comp_conf, size, "lora" if size == "7b" else "full", dtype)
        if trained is not None:
            mc.transplant_speech_side(trained, model)
        n_new = math.ceil(rate * args.size_seconds)
        row = measure(model, wav, n_new, args.device, dtype, args.size_repeats)
        row.update(llm=size, llm_params_m=mc.count_params(model.decoder) / 1e6)
        by_size.append(row)
        print(f"# {size}: {row['decode_s']:.2f} s", file=sys.stderr)
        del model

    machine = machine_info(args.device)
    print(machine_line(machine))
    print(f"# model: {what}; greedy, KV cache, batch 1, {rate:.1f} generated tokens per "
          f"audio second (the test set's rate); time = min of {args.repeats} (lengths), "
          f"{args.size_repeats} (sizes)")  # fmt: skip
    print("## decode vs audio length")
    b0 = by_length[0]
    print(format_table(
        ["audio s", "LLM prefix", "new tokens", "encode s", "decode s", "RTF", "tokens/s",
         "peak mem MiB", f"time vs {b0['audio_s']:g} s"],
        [[r["audio_s"], r["prefix"], r["generated"], r["encode_s"], r["decode_s"], r["rtf"],
          r["tokens_per_s"], r["peak_mem_mib"], f"{r['decode_s'] / b0['decode_s']:.2f}x"]
         for r in by_length],
    ))  # fmt: skip
    print(f"## decode vs LLM size ({args.size_seconds:g} s of audio; speech side: "
          f"{'trained' if trained is not None else 'random'}, LLM random)")  # fmt: skip
    s0 = by_size[0]
    print(format_table(
        ["LLM", "params M", "LLM prefix", "new tokens", "decode s", "RTF", "tokens/s",
         "peak mem MiB", f"time vs {s0['llm']}"],
        [[r["llm"], r["llm_params_m"], r["prefix"], r["generated"], r["decode_s"], r["rtf"],
          r["tokens_per_s"], r["peak_mem_mib"], f"{r['decode_s'] / s0['decode_s']:.2f}x"]
         for r in by_size],
    ))  # fmt: skip
    rows = [dict(sweep="length", **r) for r in by_length] + [dict(sweep="llm_size", **r) for r in by_size]
    write_result(result("scaling", machine, rows, model=what, tokens_per_audio_s=rate,
                        config=vars(args)), args.out)  # fmt: skip
    return dict(length=by_length, size=by_size)


if __name__ == "__main__":
    main()
