#!/usr/bin/env python3
"""Decoding speed of a trained speech-LLM at several batch sizes, greedy and beam.

For each (beam, batch size) it decodes the same utterances with
``Speech2TextLLM.batch`` and prints real-time factor (decode seconds / audio
seconds), utterances/s, generated tokens/s, and whether the 1-best strings are
identical to batch size 1. The table also goes to ``--out`` as JSON. Ratios are
against batch 1 greedy, measured in the same run.

Example (the default recipe's model):
    cd egs2/espeak_en/speechllm1
    ../../../.venv/bin/python ../../../bench/decode_speed.py \
        --exp exp/speechllm_conformer_ctc_scratchlm --data dump/raw/test --n_utts 64
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Dict, List

import soundfile
import torch

from espnet_speechllm.bin.speechllm_inference import Speech2TextLLM


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--exp", required=True, help="exp dir with config.yaml and the model")
    p.add_argument("--model", default="valid.acc.ave.pth")
    p.add_argument("--data", required=True, help="Kaldi dir with wav.scp")
    p.add_argument("--n_utts", type=int, default=64)
    p.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--beams", type=int, nargs="+", default=[1, 4])
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--out", default="bench/decode_speed.json")
    return p


def load_wavs(data: Path, n: int) -> tuple:
    """The first n utterances of wav.scp and their total duration in seconds."""
    wavs, seconds = {}, 0.0
    for line in (data / "wav.scp").read_text().splitlines()[:n]:
        key, path = line.split(maxsplit=1)
        x, fs = soundfile.read(path, dtype="float32")
        wavs[key] = torch.from_numpy(x)
        seconds += len(x) / fs
    return wavs, seconds


def run(s2t: Speech2TextLLM, wavs: Dict[str, torch.Tensor], bs: int) -> tuple:
    keys = list(wavs)
    texts: List[str] = []
    n_tokens = 0
    start = time.perf_counter()
    for i in range(0, len(keys), bs):
        chunk = keys[i : i + bs]
        for hyps in s2t.batch([wavs[k] for k in chunk], chunk):
            texts.append(hyps[0][0])
            n_tokens += len(hyps[0][2])
    return time.perf_counter() - start, texts, n_tokens


def main(argv=None) -> None:
    args = get_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    exp = Path(args.exp)
    wavs, audio_s = load_wavs(Path(args.data), args.n_utts)
    rows = []
    for beam in args.beams:
        s2t = Speech2TextLLM(exp / "config.yaml", exp / args.model, beam_size=beam)
        run(s2t, dict(list(wavs.items())[:2]), 1)  # warm-up
        ref = None
        for bs in args.batch_sizes:
            sec, texts, n_tok = run(s2t, wavs, bs)
            ref = texts if ref is None else ref
            rows.append(
                dict(beam=beam, batch=bs, seconds=sec, rtf=sec / audio_s,
                     utts_per_s=len(texts) / sec, tokens_per_s=n_tok / sec,
                     same_1best_as_batch1=texts == ref)
            )  # fmt: skip
    base = rows[0]["seconds"]
    print(f"# {platform.processor() or platform.machine()}, {args.threads} threads, torch "
          f"{torch.__version__}; {len(wavs)} utts, {audio_s:.1f} s of audio; {exp}")  # fmt: skip
    print("| beam | batch | RTF | utts/s | tokens/s | speed vs beam1/batch1 | same 1-best |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['beam']} | {r['batch']} | {r['rtf']:.4f} | {r['utts_per_s']:.2f} | "
              f"{r['tokens_per_s']:.1f} | {base / r['seconds']:.2f}x | "
              f"{r['same_1best_as_batch1']} |")  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(dict(audio_seconds=audio_s, rows=rows), indent=1))


if __name__ == "__main__":
    main()
