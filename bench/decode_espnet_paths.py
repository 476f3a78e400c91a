#!/usr/bin/env python3
"""Decoding speed: ours vs ESPnet's own decoding paths, same data, same weights.

Paths, each timed in its own subprocess (so that peak RSS is its own):

- ``ours``: ``Speech2TextLLM.batch`` (KV-cached, batched HF ``generate``), batch
  1/8/32, greedy and beam 4.
- ``espnet_hf``: ``espnet2.bin.asr_inference.Speech2Text(hugging_face_decoder=True)``
  on an ``ESPnetASRModel`` with ``HuggingFaceTransformersDecoder(causal_lm=True)``
  carrying OUR trained encoder, compressor (postencoder slot), projector
  (``linear_in``) and LLM weights, prompt as its prefix (``bench/espnet_models.py``).
  One utterance per call (ESPnet's API), same per-utterance token cap as ours.
- ``espnet_ctc_att``: ``Speech2Text`` joint CTC/attention beam search on a
  conformer ``ESPnetASRModel`` with our encoder + CTC head and a
  ``TransformerDecoder`` of a size that brings the model near ours, trained
  briefly here (``--ctc_att_train_steps``, encoder frozen; 0 = random).

RTF = decode seconds (frontend + encoder + search) / audio seconds; tokens/s
counts the 1-best's tokens without eos. Run (about 4 minutes with 32 utterances):

    python -m bench.decode_espnet_paths --n_utts 32

On a CPU that other jobs share, pass ``--threads 1``: two torch threads on an
oversubscribed 2-core machine measured up to 60x slower (OpenMP threads wait on
each other), which says nothing about the decoders.
"""

import argparse
import copy
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple
from unittest import mock

import torch

from bench.common import (
    RECIPE,
    RESULTS,
    format_table,
    load_utterances,
    machine_info,
    machine_line,
    result,
    write_result,
)
from bench.model_configs import TRAINED

PATHS = ("ours", "espnet_hf", "espnet_ctc_att")
EXP = f"exp/{TRAINED.name}"  # the default recipe run
# TransformerDecoder at the encoder width (128): 5 x 2048 brings the CTC/attention
# model to about the parameter count of ours (5.4 M).
CTC_ATT_DECODER = dict(attention_heads=4, linear_units=2048, num_blocks=5)
GOAL_SPEEDUP, GOAL_RTF = 5.0, 0.02


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", default=str(RECIPE), help="recipe dir; other paths are inside")
    p.add_argument("--exp", default=EXP, help="our trained model's exp dir")
    p.add_argument("--model", default="valid.acc.ave.pth")
    p.add_argument("--data", default="dump/raw/test", help="Kaldi dir with wav.scp")
    p.add_argument("--n_utts", type=int, default=32)
    p.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--beams", type=int, nargs="+", default=[1, 4])
    p.add_argument("--paths", nargs="+", default=list(PATHS), choices=PATHS)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--ctc_att_train_steps", type=int, default=300)
    p.add_argument("--ctc_att_ctc_weight", type=float, default=0.3, help="decoding weight")
    p.add_argument("--out", default=str(RESULTS / "decode_espnet_paths.json"))
    p.add_argument("--worker", choices=PATHS + ("train_ctc_att",), help=argparse.SUPPRESS)
    p.add_argument("--worker_out", help=argparse.SUPPRESS)
    return p


# ----------------------------------------------------------------- workers
def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _load_ours(args, beam: int):
    from espnet_speechllm.bin.speechllm_inference import Speech2TextLLM

    exp = Path(args.exp)
    return Speech2TextLLM(exp / "config.yaml", exp / args.model, beam_size=beam)


def _espnet_s2t(model, train_args: argparse.Namespace, **kwargs):
    """ESPnet's Speech2Text on an in-memory model (it only reads models from files)."""
    from espnet2.bin.asr_inference import Speech2Text
    from espnet2.tasks.asr import ASRTask

    with mock.patch.object(ASRTask, "build_model_from_file", return_value=(model, train_args)):
        return Speech2Text(None, None, **kwargs)


def _timed_loop(decode, utts) -> Dict:
    """Decode utterances one by one: seconds, 1-best ids, texts."""
    ids, texts = [], []
    start = time.perf_counter()
    for key, wav, _ in utts:
        text, tok_ids = decode(key, wav)
        ids.append(tok_ids)
        texts.append(text)
    return dict(seconds=time.perf_counter() - start, ids=ids, texts=texts)


def work_ours(args, utts) -> Tuple[List[Dict], Dict]:
    runs = []
    for beam in args.beams:
        s2t = _load_ours(args, beam)
        s2t.batch([w for _, w, _ in utts[:2]])  # warm-up
        for bs in args.batch_sizes:
            ids, texts = [], []
            start = time.perf_counter()
            for i in range(0, len(utts), bs):
                chunk = utts[i : i + bs]
                for hyps in s2t.batch([w for _, w, _ in chunk], [k for k, _, _ in chunk]):
                    texts.append(hyps[0][0])
                    ids.append(hyps[0][2])
            runs.append(dict(beam=beam, batch=bs, seconds=time.perf_counter() - start,
                             ids=ids, texts=texts))  # fmt: skip
        params = sum(p.numel() for p in s2t.model.parameters())
    return runs, dict(params=params)


def work_espnet_hf(args, utts) -> Tuple[List[Dict], Dict]:
    from bench.espnet_models import build_espnet_hf_model

    ours = _load_ours(args, 1)
    llm_dir = ours.train_args.decoder_conf["model_name_or_path"]
    base = build_espnet_hf_model(ours.model, ours.train_args, llm_dir)
    ns = argparse.Namespace(token_type="hugging_face", bpemodel=ours.train_args.bpemodel)
    caps = {k: ours.token_cap(w.numel()) for k, w, _ in utts}
    meta = dict(params=sum(p.numel() for p in base.parameters()))
    del ours
    # asr_inference's BeamSearch path (hugging_face_decoder=False) with a causal LM:
    try:
        _espnet_s2t(copy.deepcopy(base), ns, beam_size=1, ctc_weight=0.0)(utts[0][1])
        meta["beam_search_path"] = "ran"
    except Exception as e:  # whatever ESPnet raises there
        meta["beam_search_path"] = f"{type(e).__name__}: {e}"
    runs = []
    for beam in args.beams:
        s2t = _espnet_s2t(copy.deepcopy(base), ns, beam_size=beam, hugging_face_decoder=True,
                          hugging_face_decoder_conf=dict(num_beams=beam))  # fmt: skip

        def decode(key, wav):
            s2t.hugging_face_decoder_conf["max_new_tokens"] = caps[key]
            text, _, tok_ids, _ = s2t(wav)[0]
            return text, tok_ids

        for key, wav, _ in utts[:2]:  # warm-up
            decode(key, wav)
        runs.append(dict(beam=beam, batch=1, **_timed_loop(decode, utts)))
    return runs, meta


def _ctc_att_cache(args) -> Path:
    """The briefly trained attention decoder, kept in exp/ and reused."""
    name = f"{Path(args.exp).name}_decoder_{args.ctc_att_train_steps}steps.pth"
    return Path(args.exp).parent / "bench_espnet_ctc_att" / name


def work_train_ctc_att(args, utts) -> Tuple[List[Dict], Dict]:
    """Train the attention decoder briefly (encoder and CTC frozen, outputs cached)."""
    from bench.espnet_models import build_espnet_ctc_att_model
    
    ours = _load_ours(args, 1)
    model = build_espnet_ctc_att_model(ours.model, ours.train_args, dict(CTC_ATT_DECODER))
    tok = ours.tokenizer
    torch.manual_seed(0)
    train = load_utterances(1024, Path(args.data).resolve().parent / "train")
    feats = []
    with torch.no_grad():
        for _, wav, text in train:
            enc, _ = model.encode(wav[None], torch.tensor([wav.numel()]))
            ids = [t + 1 for t in tok(text, add_special_tokens=False).input_ids]
            feats.append((enc[0], torch.tensor(ids)))
    dec = model.decoder.train()
    opt = torch.optim.Adam(dec.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50))
    pad = torch.nn.utils.rnn.pad_sequence
    for step in range(args.ctc_att_train_steps):
        batch = [feats[i] for i in torch.randint(len(feats), (32,)).tolist()]
        hs = pad([h for h, _ in batch], batch_first=True)
        hlens = torch.tensor([h.size(0) for h, _ in batch])
        ys = pad([y for _, y in batch], batch_first=True, padding_value=-1)
        ylens = torch.tensor([y.numel() for _, y in batch])
        loss, acc, _, _ = model._calc_att_loss(hs, hlens, ys, ylens)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(dec.parameters(), 5.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == args.ctc_att_train_steps - 1:
            print(f"# ctc_att decoder step {step}: loss {loss.item():.3f} acc {acc:.3f}",
                  file=sys.stderr)  # fmt: skip
    path = _ctc_att_cache(args)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dec.state_dict(), path)
    meta = dict(train_utts=len(feats), batch=32, steps=args.ctc_att_train_steps,
                final_loss=loss.item(), final_acc=float(acc))  # fmt: skip
    path.with_suffix(".json").write_text(json.dumps(meta))
    return [], meta


def work_espnet_ctc_att(args, utts) -> Tuple[List[Dict], Dict]:
    from bench.espnet_models import build_espnet_ctc_att_model

    ours = _load_ours(args, 1)
    base = build_espnet_ctc_att_model(ours.model, ours.train_args, dict(CTC_ATT_DECODER))
    tok = ours.tokenizer
    del ours
    meta = dict(params=sum(p.numel() for p in base.parameters()), decoder="random")
    if args.ctc_att_train_steps > 0:
        base.decoder.load_state_dict(torch.load(_ctc_att_cache(args)))
        meta["decoder"] = f"trained {args.ctc_att_train_steps} steps (batch 32, encoder frozen)"
        meta["decoder_training"] = json.loads(_ctc_att_cache(args).with_suffix(".json").read_text())
    ns = argparse.Namespace(token_type=None, bpemodel=None)
    runs = []
    for beam in args.beams:
        s2t = _espnet_s2t(copy.deepcopy(base), ns, beam_size=beam,
                          ctc_weight=args.ctc_att_ctc_weight)  # fmt: skip

        def decode(key, wav):
            _, tokens, tok_ids, _ = s2t(wav)[0]
            # ESPnet id = LLM id + 1 (blank first); text from the LLM tokenizer.
            return tok.convert_tokens_to_string(tokens).strip(), [t - 1 for t in tok_ids]

        for key, wav, _ in utts[:2]:  # warm-up
            decode(key, wav)
        runs.append(dict(beam=beam, batch=1, **_timed_loop(decode, utts)))
    return runs, meta


WORKERS = dict(ours=work_ours, espnet_hf=work_espnet_hf, espnet_ctc_att=work_espnet_ctc_att,
               train_ctc_att=work_train_ctc_att)  # fmt: skip


def run_worker(args) -> None:
    torch.set_num_threads(args.threads)
    utts = load_utterances(args.n_utts, Path(args.data).resolve())
    rss_start = _peak_rss_mib()
    runs, meta = WORKERS[args.worker](args, utts)
    out = dict(runs=runs, meta=meta, peak_rss_mib=_peak_rss_mib(), rss_after_imports_mib=rss_start)
    Path(args.worker_out).write_text(json.dumps(out))


# ------------------------------------------------------------ orchestration
def spawn(argv: Sequence[str], worker: str, tmp: Path) -> Dict:
    out = tmp / f"{worker}.json"
    cmd = [sys.executable, "-m", "bench.decode_espnet_paths", *argv,
           "--worker", worker, "--worker_out", str(out)]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))
    print(f"# running {worker} ...", flush=True)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise RuntimeError(f"worker {worker} failed with exit code {proc.returncode}")
    for line in proc.stderr.splitlines():
        if line.startswith("# "):
            print(line)
    return json.loads(out.read_text())


def same_count(a: Sequence, b: Sequence) -> int:
    """Utterances whose 1-best (token ids or text) agree."""
    if len(a) != len(b):
        raise ValueError(f"{len(a)} vs {len(b)} utterances")
    return sum(x == y for x, y in zip(a, b))


def summarize(results: Dict[str, Dict], audio_s: float) -> List[Dict]:
    """Table rows with ratios: 1-best vs ours at batch 1 (same beam), speed vs espnet_hf."""
    ref = {r["beam"]: r for r in results.get("ours", {}).get("runs", []) if r["batch"] == 1}
    hf = {r["beam"]: r for r in results.get("espnet_hf", {}).get("runs", [])}
    rows = []
    for path, res in results.items():
        for r in res["runs"]:
            n = len(r["ids"])
            row = dict(path=path, beam=r["beam"], batch=r["batch"], utts=n,
                       seconds=r["seconds"], rtf=r["seconds"] / audio_s,
                       utts_per_s=n / r["seconds"],
                       tokens_per_s=sum(map(len, r["ids"])) / r["seconds"],
                       peak_rss_mib=res["peak_rss_mib"], params=res["meta"].get("params"),
                       texts=r["texts"])  # fmt: skip
            if r["beam"] in ref:
                row["same_1best_as_ours_batch1"] = same_count(r["ids"], ref[r["beam"]]["ids"])
                row["same_text_as_ours_batch1"] = same_count(r["texts"], ref[r["beam"]]["texts"])
            if r["beam"] in hf:
                row["speedup_vs_espnet_hf"] = hf[r["beam"]]["seconds"] / r["seconds"]
            rows.append(row)
    return rows


def goals(rows: List[Dict]) -> List[str]:
    lines = []
    ours = [r for r in rows if r["path"] == "ours"]
    hf = {r["beam"]: r for r in rows if r["path"] == "espnet_hf"}
    for beam, h in sorted(hf.items()):
        cand = [r for r in ours if r["beam"] == beam]
        if not cand:
            continue
        best = max(cand, key=lambda r: r["speedup_vs_espnet_hf"])
        same = h.get("same_1best_as_ours_batch1") == h["utts"]
        ok = best["speedup_vs_espnet_hf"] >= GOAL_SPEEDUP and same
        lines.append(
            f"# goal ours >= {GOAL_SPEEDUP:g}x ESPnet HF path (beam {beam}): best "
            f"{best['speedup_vs_espnet_hf']:.2f}x at batch {best['batch']}, batch 1 "
            f"{[r for r in cand if r['batch'] == 1][0]['speedup_vs_espnet_hf']:.2f}x; "
            f"1-best identical {h.get('same_1best_as_ours_batch1')}/{h['utts']}: "
            f"{'MET' if ok else 'NOT MET'}"
        )
    greedy = [r for r in ours if r["beam"] == 1]
    if greedy:
        best = min(greedy, key=lambda r: r["rtf"])
        lines.append(
            f"# goal RTF <= {GOAL_RTF} (ours, greedy): {best['rtf']:.4f} at batch "
            f"{best['batch']}: {'MET' if best['rtf'] <= GOAL_RTF else 'NOT MET'}"
        )
    return lines


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = get_parser().parse_args(argv)
    args.out = str(Path(args.out).resolve())
    os.chdir(args.recipe)  # the trained config holds recipe-relative paths
    if args.worker:
        return run_worker(args)
    out = Path(args.out)
    torch.set_num_threads(args.threads)
    utts = load_utterances(args.n_utts, Path(args.data).resolve())
    audio_s = sum(w.numel() for _, w, _ in utts) / 16000
    passed = [*(argv if argv is not None else sys.argv[1:]), "--recipe", str(Path.cwd())]
    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "espnet_ctc_att" in args.paths and args.ctc_att_train_steps > 0:
            cache, model = _ctc_att_cache(args), Path(args.exp) / args.model
            if not cache.exists() or cache.stat().st_mtime < model.stat().st_mtime:
                spawn(passed, "train_ctc_att", Path(tmp))
        for path in args.paths:
            results[path] = spawn(passed, path, Path(tmp))
    load_after = os.getloadavg()
    rows = summarize(results, audio_s)

    machine = machine_info()
    print(machine_line(machine))
    print(f"# {len(utts)} utts, {audio_s:.1f} s of audio ({args.data}); model {args.exp}; "
          f"load average before/after {load_before[0]:.2f}/{load_after[0]:.2f} "
          f"(shared CPU)")  # fmt: skip
    headers = ["path", "beam", "batch", "RTF", "utts/s", "tokens/s", "peak RSS MiB",
               "params M", "1-best = ours b1", "speed vs espnet_hf"]  # fmt: skip
    table = [
        [r["path"], r["beam"], r["batch"], r["rtf"], r["utts_per_s"], r["tokens_per_s"],
         round(r["peak_rss_mib"]), round(r["params"] / 1e6, 2),
         f"{r['same_1best_as_ours_batch1']}/{r['utts']}" if "same_1best_as_ours_batch1" in r
         else "-",
         f"{r['speedup_vs_espnet_hf']:.2f}x" if "speedup_vs_espnet_hf" in r else "-"]
        for r in rows
    ]  # fmt: skip
    print(format_table(headers, table))
    for path, res in results.items():
        meta = {k: v for k, v in res["meta"].items() if k != "params"}
        if meta:
            print(f"# {path}: {meta}")
    for line in goals(rows):
        print(line)
    res = result("decode_espnet_paths", machine, rows, audio_seconds=audio_s,
                 load_average=[load_before[0], load_after[0]],
                 meta={p: r["meta"] for p, r in results.items()})  # fmt: skip
    write_result(res, str(out))


if __name__ == "__main__":
    main()
