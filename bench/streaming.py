"""Streaming vs offline decoding of the same streaming speech-LLM: WER, latency, token lag.

One model (the espeak_en recipe trained with
``conf/tuning/train_speechllm_streaming_conformer_ctc_scratchlm.yaml``), one set of
decoding options (``--inference_config``, default the recipe's
``conf/decode_speechllm.yaml``), the test utterances decoded

- offline: ``Speech2TextLLM`` on the whole utterance, one at a time (it can start only
  when the audio has ended, so its latency is its whole decoding time);
- streaming: ``Speech2TextLLMStreaming`` fed chunks of 320 / 640 / 1000 ms.

Latency is replayed on a real-time schedule from the measured compute time of each call:
chunk k arrives when its audio has been spoken and starts when it has arrived and the
previous call is done; **final latency** = the end of the last call - the end of the
audio. **Token lag**: each token of the final hypothesis counts as emitted after the
first call from which every later partial (and the final) starts with it; its lag is
that call's end minus the end of the token's audio, from a CTC forced alignment of the
final hypothesis on the model's CTC posteriors (``torchaudio.functional.forced_align``).
Scores are case-insensitive (as stage 13's).

Example:
    bench/run.sh streaming                         # the recipe's streaming model, 200 test utts
    bench/run.sh streaming --n_utts 50 --chunk_ms 640
"""

import argparse
import os
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
import yaml

from bench.common import RECIPE, RESULTS, format_table, load_utterances, machine_info, machine_line
from bench.common import result, write_result

DEFAULT_EXP = RECIPE / "exp" / "speechllm_streaming_conformer_ctc_scratchlm_scratch_lm_bpe500"
GOAL_WER, GOAL_LATENCY, GOAL_CHUNK = 1.0, 1.0, 640.0


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--exp", type=Path, default=DEFAULT_EXP, help="A trained streaming model's exp dir")
    p.add_argument("--model", default="valid.acc.ave.pth", help="Checkpoint in --exp")
    p.add_argument("--inference_config", type=Path, default=RECIPE / "conf" / "decode_speechllm.yaml",
                   help="Decoding options of both (YAML of speechllm_inference keys)")  # fmt: skip
    p.add_argument("--data", type=Path, default=None, help="Kaldi dir (default: the recipe's dump/raw/test)")
    p.add_argument("--n_utts", type=int, default=200, help="Test utterances")
    p.add_argument("--chunk_ms", type=float, nargs="+", default=[320.0, 640.0, 1000.0])
    p.add_argument("--unstable_tokens", type=int, default=2, help="Partial tail re-decoded per chunk")
    p.add_argument("--espnet_exp", type=Path, default=None,
                   help="Also ESPnet's own streaming CTC/attention ASR of this exp dir (bench/streaming_espnet.py)")
    p.add_argument("--espnet_model", default="valid.acc.ave.pth", help="Checkpoint in --espnet_exp")
    p.add_argument("--espnet_inference_config", type=Path, default=RECIPE / "conf" / "decode_asr.yaml",
                   help="Its decoding options (beam_size, ctc_weight of an asr_inference YAML)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--out", default=str(RESULTS / "streaming.json"), help="JSON result path")
    return p


def decode_options(path: Path) -> Dict[str, Any]:
    """The keys of a decoding YAML that ``Speech2TextLLM`` takes."""
    conf = yaml.safe_load(path.read_text()) or {}
    keep = ("beam_size", "nbest", "max_new_tokens", "max_tokens_per_second", "min_new_tokens",
            "no_repeat_ngram_size", "length_penalty", "repetition_penalty", "ctc_weight", "ctc_pre_beam")  # fmt: skip
    return {k: v for k, v in conf.items() if k in keep}


def wer(refs: Sequence[str], hyps: Sequence[str]) -> float:
    import jiwer

    return 100.0 * jiwer.wer([r.lower() for r in refs], [h.lower() or "<empty>" for h in hyps])


def pct(xs: Sequence[float], q: float) -> float:
    return float(np.percentile(xs, q)) if len(xs) else float("nan")


def align_ends(logp: torch.Tensor, targets: List[int], duration_s: float) -> Optional[List[float]]:
    """End (s) of each target's run in a CTC forced alignment.  logp: (1, T, V), blank 0."""
    import torchaudio.functional as AF

    if not targets:
        return []
    frame_s = duration_s / logp.size(1)
    try:
        labels, _ = AF.forced_align(logp, torch.tensor([targets], dtype=torch.int32), blank=0)
    except RuntimeError:  # more tokens than frames allow
        return None
    labels = labels[0].tolist()
    ends: List[int] = []  # last frame of each token's run (a repeated token has a blank between)
    for f, lab in enumerate(labels):
        if lab != 0 and (f == 0 or labels[f - 1] != lab):
            ends.append(f)
        elif lab != 0:
            ends[-1] = f
    return [(e + 1) * frame_s for e in ends] if len(ends) == len(targets) else None


def token_end_times(model, speech: torch.Tensor, ids: List[int], fs: int) -> Optional[List[float]]:
    """End (s) of each token's audio: CTC forced alignment on the offline encoder output."""
    if not ids:
        return []
    with torch.no_grad():
        enc, enc_lens = model.encode_frames(speech[None], torch.tensor([speech.numel()]))
        logp = model.compressor.ctc_head.log_softmax(enc)[:, : int(enc_lens[0])].float()
    return align_ends(logp, [t + 1 for t in ids], speech.numel() / fs)  # token t = CTC class t + 1


def stream_one(s2t, speech: torch.Tensor, chunk_ms: float) -> Dict[str, Any]:
    """Feed one utterance chunk by chunk; per call its audio end, compute time, token ids."""
    fs, step = s2t.fs, s2t.chunk_samples(chunk_ms)
    s2t.reset()
    calls = []
    starts = list(range(0, max(1, speech.numel()), step))
    for i, start in enumerate(starts):
        final = i == len(starts) - 1
        t0 = time.perf_counter()
        hyps = s2t(speech[start : start + step], is_final=final)
        dt = time.perf_counter() - t0
        end = min(speech.numel(), start + step) / fs
        calls.append(dict(audio_end=end, compute=dt, ids=hyps[0].token_ids if hyps else [],
                          text=hyps[0].text if hyps else ""))  # fmt: skip
    done = 0.0
    for c in calls:  # real-time replay: arrive at audio_end, wait for the previous call
        done = max(done, c["audio_end"]) + c["compute"]
        c["done"] = done
    return dict(calls=calls, latency=done - speech.numel() / fs)


def emission_lags(calls: List[Dict[str, Any]], ends: List[float]) -> List[float]:
    """Per final token: the end of the first call after which it never changes - its audio end."""
    final = calls[-1]["ids"]
    lags = []
    for i in range(len(final)):
        k = len(calls) - 1
        while k > 0 and calls[k - 1]["ids"][: i + 1] == final[: i + 1]:
            k -= 1
        lags.append(calls[k]["done"] - ends[i])
    return lags


def measure(label: str, offline, online, utts, chunks: Sequence[float], end_times) -> List[Dict[str, Any]]:
    """Rows of one model: offline, then streaming at each chunk size (same utterances).

    A row's ``empty`` counts the utterances decoded to "" (every word of their reference an error).

    ``offline(x) -> [hyp]``, ``online`` as ``stream_one`` feeds it, ``end_times(x, ids)`` the
    end (s) of each token's audio; a hypothesis has ``text`` and ``token_ids``.
    """
    audio_s = sum(x.numel() for _, x, _ in utts) / offline.fs
    refs = [t for _, _, t in utts]
    off_hyps, off_lat, off_ids = [], [], []
    for _, x, _ in utts:
        t0 = time.perf_counter()
        h = offline(x)[0]
        off_lat.append(time.perf_counter() - t0)
        off_hyps.append(h.text)
        off_ids.append(h.token_ids)
    rows = [dict(model=label, mode="offline", chunk_ms=None, wer=wer(refs, off_hyps), latency_p50=pct(off_lat, 50),
                 latency_p95=pct(off_lat, 95), lag_p50=None, lag_p95=None, same_as_offline=len(utts),
                 empty=sum(not h for h in off_hyps), rtf=sum(off_lat) / audio_s)]  # fmt: skip
    ends = [end_times(x, ids) for (_, x, _), ids in zip(utts, off_ids)]
    for chunk in chunks:
        hyps, lats, lags, same, compute = [], [], [], 0, 0.0
        for j, (_, x, _) in enumerate(utts):
            r = stream_one(online, x, chunk)
            calls = r["calls"]
            hyps.append(calls[-1]["text"])
            lats.append(r["latency"])
            compute += sum(c["compute"] for c in calls)
            same += calls[-1]["ids"] == off_ids[j]
            if ends[j] is not None and calls[-1]["ids"] == off_ids[j]:
                lags += emission_lags(calls, ends[j])
        rows.append(dict(model=label, mode="streaming", chunk_ms=chunk, wer=wer(refs, hyps), latency_p50=pct(lats, 50),
                         latency_p95=pct(lats, 95), lag_p50=pct(lags, 50), lag_p95=pct(lags, 95),
                         same_as_offline=same, empty=sum(not h for h in hyps), rtf=compute / audio_s))  # fmt: skip
    return rows


def espnet_models(args: argparse.Namespace):
    """ESPnet's own streaming ASR (``--espnet_exp``): offline and online adapters."""
    from bench.streaming_espnet import EspnetOffline, EspnetStreaming

    model_file = (args.espnet_exp / args.espnet_model).resolve()
    if not model_file.exists():
        raise SystemExit(
            f"{model_file} not found: train ESPnet's streaming ASR first (cd {RECIPE} && ./run.sh "
            "--stage 11 --stop_stage 11 --model_type seq2seq --speechllm_config "
            "conf/tuning/train_asr_streaming_conformer_transformer.yaml), or give --espnet_exp"
        )
    conf = yaml.safe_load(args.espnet_inference_config.read_text()) or {}
    opts = dict(beam_size=int(conf.get("beam_size", 4)), ctc_weight=float(conf.get("ctc_weight", 0.3)))
    config = (args.espnet_exp / "config.yaml").resolve()
    return EspnetOffline(config, model_file, **opts), EspnetStreaming(config, model_file, **opts), opts


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    from espnet_speechllm.bin.speech2text_llm import Speech2TextLLM
    from espnet_speechllm.bin.speech2text_llm_streaming import Speech2TextLLMStreaming

    args = get_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    model_file = args.exp / args.model
    if not model_file.exists():
        raise SystemExit(
            f"{model_file} not found: train the streaming model first (cd {RECIPE} && ./run.sh "
            "--speechllm_config conf/tuning/train_speechllm_streaming_conformer_ctc_scratchlm.yaml "
            "--stop_stage 11), or give --exp"
        )
    opts = decode_options(args.inference_config)
    model_file, config = model_file.resolve(), (args.exp / "config.yaml").resolve()
    data = args.data.resolve() if args.data is not None else None
    args.out = str(Path(args.out).resolve())  # before the chdir below
    for name in ("espnet_exp", "espnet_inference_config"):
        if getattr(args, name) is not None:
            setattr(args, name, getattr(args, name).resolve())
    os.chdir(args.exp.resolve().parents[1])  # a recipe's config holds paths relative to it
    offline = Speech2TextLLM(config, model_file, **opts)
    online = Speech2TextLLMStreaming(config, model_file, unstable_tokens=args.unstable_tokens, **opts)
    utts = load_utterances(args.n_utts, data)
    audio_s = sum(x.numel() for _, x, _ in utts) / offline.fs
    info = machine_info()
    load0 = f"{os.getloadavg()[0]:.2f}"

    label = "speech-LLM"
    rows = measure(label, offline, online, utts, args.chunk_ms,
                   lambda x, ids: token_end_times(offline.model, x, ids, offline.fs))  # fmt: skip
    espnet_opts, load_mid = None, None
    if args.espnet_exp is not None:
        load_mid = f"{os.getloadavg()[0]:.2f}"
        e_off, e_on, espnet_opts = espnet_models(args)
        rows += measure("ESPnet CTC/att", e_off, e_on, utts, args.chunk_ms, e_off.token_end_times)
    load1 = f"{os.getloadavg()[0]:.2f}"

    print(machine_line(info))
    loads = f"{load0}/{load1}" if load_mid is None else f"{load0}/{load_mid}/{load1} (start/ESPnet's start/end)"
    print(f"# {len(utts)} utts, {audio_s:.1f} s of audio; model {args.exp.name}/{args.model}; "
          f"decoding {opts}; load average {loads} (shared CPU)")  # fmt: skip
    if espnet_opts is not None:
        print(f"# ESPnet's streaming ASR: {args.espnet_exp.name}/{args.espnet_model}; decoding {espnet_opts}")
    headers = ["model", "mode", "chunk ms", "WER %", "final latency p50 s", "p95 s", "token lag p50 s",
               "p95 s", "1-best = offline", "empty hyps", "RTF"]  # fmt: skip
    table = [[r["model"], r["mode"], r["chunk_ms"] or "-", r["wer"], r["latency_p50"], r["latency_p95"],
              "-" if r["lag_p50"] is None else r["lag_p50"], "-" if r["lag_p95"] is None else r["lag_p95"],
              f"{r['same_as_offline']}/{len(utts)}", r["empty"], r["rtf"]] for r in rows]  # fmt: skip
    print(format_table(headers, table))
    print("# final latency: end of the last call - end of the audio (offline: its whole decode);"
          " token lag: a final token's first stable emission - the end of its audio (CTC alignment)")
    ours = [r for r in rows if r["model"] == label]
    goal = [r for r in ours if r["chunk_ms"] == GOAL_CHUNK]
    if goal:
        g = goal[0]
        d = g["wer"] - ours[0]["wer"]
        print(f"# goal WER within {GOAL_WER} of offline at {GOAL_CHUNK:.0f} ms: {d:+.2f}: "
              f"{'MET' if d <= GOAL_WER else 'NOT MET'}")  # fmt: skip
        print(f"# goal final latency <= {GOAL_LATENCY} s at {GOAL_CHUNK:.0f} ms: p50 {g['latency_p50']:.3f} s, "
              f"p95 {g['latency_p95']:.3f} s: {'MET' if g['latency_p95'] <= GOAL_LATENCY else 'NOT MET'} (p95)")  # fmt: skip
    res = result("streaming", info, rows, model=str(model_file), decoding=opts, n_utts=len(utts),
                 audio_s=audio_s, load=[x for x in (load0, load_mid, load1) if x is not None], espnet_decoding=espnet_opts)  # fmt: skip
    write_result(res, args.out)
    return res


if __name__ == "__main__":
    main()
