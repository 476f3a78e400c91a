#!/usr/bin/env python3
"""Batch-1 decoding, ours vs ESPnet's HF-decoder path, interleaved in one process + profile.

``decode_espnet_paths`` times each path in its own process, one after the other: on a
CPU that other jobs share, the load can change between them. Here both decoders
(``Speech2TextLLM`` and ``espnet2.bin.asr_inference.Speech2Text(hugging_face_decoder=True)``
on the same weights, built as ``decode_espnet_paths`` builds them) decode the same
utterances one at a time, alternating which goes first, so that both see the same
load; the ratio is of the sums over ``--repeats`` passes. ``--profile`` then runs
each path once more under ``cProfile`` and prints its top functions (self time and
cumulative time per utterance), which is what says where our per-utterance time goes.

    python -m bench.decode_batch1 --n_utts 32 --repeats 3 --profile 12
"""

import argparse
import cProfile
import io
import os
import pstats
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from bench.common import (
    RECIPE,
    RESULTS,
    load_utterances,
    machine_info,
    machine_line,
    result,
    write_result,
)
from bench.decode_espnet_paths import EXP, _espnet_s2t, _load_ours

Decode = Callable[[str, torch.Tensor], List[int]]


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", default=str(RECIPE))
    p.add_argument("--exp", default=EXP)
    p.add_argument("--model", default="valid.acc.ave.pth")
    p.add_argument("--data", default="dump/raw/test")
    p.add_argument("--n_utts", type=int, default=32)
    p.add_argument("--beam", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads (shared CPU: 1)")
    p.add_argument("--profile", type=int, default=0, help="print the top N functions per path")
    p.add_argument("--out", default=str(RESULTS / "decode_batch1.json"))
    return p


def decoders(args) -> Tuple[Decode, Decode]:
    """(ours, espnet_hf): key, waveform -> 1-best token ids, same weights and caps."""
    import argparse as ap

    from bench.espnet_models import build_espnet_hf_model

    ours = _load_ours(args, args.beam)
    base = build_espnet_hf_model(ours.model, ours.train_args,
                                 ours.train_args.decoder_conf["model_name_or_path"])  # fmt: skip
    ns = ap.Namespace(token_type="hugging_face", bpemodel=ours.train_args.bpemodel)
    hf = _espnet_s2t(base, ns, beam_size=args.beam, hugging_face_decoder=True,
                     hugging_face_decoder_conf=dict(num_beams=args.beam))  # fmt: skip

    def decode_ours(key: str, wav: torch.Tensor) -> List[int]:
        return ours.batch([wav], [key])[0][0].token_ids

    def decode_hf(key: str, wav: torch.Tensor) -> List[int]:
        hf.hugging_face_decoder_conf["max_new_tokens"] = ours.token_cap(wav.numel())
        return list(hf(wav)[0][2])

    return decode_ours, decode_hf


def interleaved(paths: Dict[str, Decode], utts, repeats: int) -> Dict[str, Dict]:
    """Per path: total seconds over all passes and the 1-best ids of the first pass."""
    names = list(paths)
    out = {n: dict(seconds=0.0, per_utt=[], ids=[]) for n in names}
    for rep in range(repeats):
        for i, (key, wav, _) in enumerate(utts):
            order = names if (i + rep) % 2 == 0 else names[::-1]
            for n in order:
                start = time.perf_counter()
                ids = paths[n](key, wav)
                sec = time.perf_counter() - start
                out[n]["seconds"] += sec
                out[n]["per_utt"].append(sec)
                if rep == 0:
                    out[n]["ids"].append(ids)
    return out


def profile(decode: Decode, utts, top: int) -> str:
    """cProfile of one pass: the top functions by self time and by cumulative time."""
    prof = cProfile.Profile()
    prof.enable()
    for key, wav, _ in utts:
        decode(key, wav)
    prof.disable()
    text = []
    for order in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(order).print_stats(top)
        body = buf.getvalue()
        text.append(body[body.find("   ncalls"):].rstrip())
    return "\n\n".join(text)


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    args = get_parser().parse_args(argv)
    args.out = str(Path(args.out).resolve())
    os.chdir(args.recipe)  # the trained config holds recipe-relative paths
    torch.set_num_threads(args.threads)
    utts = load_utterances(args.n_utts, Path(args.data).resolve())
    audio_s = sum(w.numel() for _, w, _ in utts) / 16000
    ours, hf = decoders(args)
    paths = dict(ours=ours, espnet_hf=hf)
    for key, wav, _ in utts[:2]:  # warm-up
        ours(key, wav), hf(key, wav)
    load = [os.getloadavg()[0]]
    res = interleaved(paths, utts, args.repeats)
    load.append(os.getloadavg()[0])
    same = sum(a == b for a, b in zip(res["ours"]["ids"], res["espnet_hf"]["ids"]))
    ratio = res["espnet_hf"]["seconds"] / res["ours"]["seconds"]
    per = sorted(h / o for o, h in zip(res["ours"]["per_utt"], res["espnet_hf"]["per_utt"]))
    print(machine_line(machine_info()))
    print(f"# {len(utts)} utts ({audio_s:.1f} s of audio), beam {args.beam}, batch 1, "
          f"{args.repeats} interleaved passes; load average before/after {load[0]:.2f}/{load[1]:.2f}")  # fmt: skip
    print("| path | ms/utt | RTF | speed vs espnet_hf | 1-best = espnet_hf |")
    print("|---|---:|---:|---|---|")
    for n in paths:
        sec = res[n]["seconds"] / args.repeats
        print(f"| {n} | {1e3 * sec / len(utts):.1f} | {sec / audio_s:.4f} | "
              f"{res['espnet_hf']['seconds'] / res[n]['seconds']:.2f}x | {same}/{len(utts)} |")  # fmt: skip
    print(f"# speed ours vs espnet_hf: {ratio:.2f}x (sums); per-utterance ratio median "
          f"{per[len(per) // 2]:.2f}x, quartiles {per[len(per) // 4]:.2f}x-{per[3 * len(per) // 4]:.2f}x")  # fmt: skip
    profiles = {}
    if args.profile:
        for n, fn in paths.items():
            profiles[n] = profile(fn, utts, args.profile)
            print(f"\n## cProfile {n} ({len(utts)} utterances)\n{profiles[n]}")
    rows = [dict(path=n, seconds=res[n]["seconds"], repeats=args.repeats, utts=len(utts),
                 rtf=res[n]["seconds"] / args.repeats / audio_s) for n in paths]  # fmt: skip
    write_result(result("decode_batch1", machine_info(), rows, speedup=ratio, same_1best=same,
                        load_average=load, profiles=profiles), args.out)  # fmt: skip
    return dict(speedup=ratio, same=same)


if __name__ == "__main__":
    main()
