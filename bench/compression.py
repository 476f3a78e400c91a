"""LLM prefix length and training step time per compressor, vs no compression at 40 ms.

Variants (same conformer encoder sizes and LLM as the default recipe model):
  none 40 ms      identity compressor, conv2d subsampling (x4): the baseline
  none 60 ms      identity, conv2d6 (the recipe's encoder frame rate)
  stack x4        stack 4 frames of 40 ms (160 ms per LLM position)
  conv x4         strided conv, stride 4 over 40 ms frames
  ctc blank_rm    CTC blank removal  \  on the recipe's trained model (conv2d6 + its CTC
  ctc frame_avg   CTC frame averaging /  head) when present, else a briefly trained head

Prefix lengths are averaged over `--n_prefix` real utterances decoded one by one; the
step time (forward + backward + AdamW, min of `--steps`) uses a batch of the first
`--batch` utterances. Ratios are against "none 40 ms" of the same run.

Example:
    python -m bench.compression                       # CPU, default model, ~2 min idle
    python -m bench.compression --llm 135m --batch 16   # a bigger LLM behind the encoder
    python -m bench.compression --device cuda           # bf16, 7B LoRA, HuBERT-large sizes
"""

import argparse
import sys
from typing import Any, Dict, List

import torch

from bench.common import (
    RESULTS,
    cuda_or_skip,
    format_table,
    load_utterances,
    machine_info,
    machine_line,
    median,
    result,
    timed,
    write_result,
)
from bench import model_configs as mc

VARIANTS = [
    ("none 40 ms", dict(input_layer="conv2d"), "identity", {}),
    ("none 60 ms", dict(input_layer="conv2d6"), "identity", {}),
    ("stack x4", dict(input_layer="conv2d"), "stack", dict(stride=4)),
    ("conv x4", dict(input_layer="conv2d"), "conv", dict(stride=4)),
    ("ctc blank_rm", dict(input_layer="conv2d6"), "ctc", dict(mode="blank_removal")),
    ("ctc frame_avg", dict(input_layer="conv2d6"), "ctc", dict(mode="frame_averaging")),
]
GOAL_PREFIX, GOAL_STEP = 4.0, 2.0


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu or cuda (cuda without a GPU: skip)")
    p.add_argument("--dtype", default=None, help="default: float32 on CPU, bfloat16 on CUDA")
    p.add_argument("--llm", default=None, choices=sorted(mc.LLM_SIZES),
                   help="default: the recipe LLM on CPU, 7b (LoRA) on CUDA")  # fmt: skip
    p.add_argument("--encoder", default=None, choices=sorted(mc.ENCODERS),
                   help="default: the recipe encoder on CPU, hubert_large on CUDA")  # fmt: skip
    p.add_argument("--decoder_mode", default=None, choices=["full", "lora", "frozen"])
    p.add_argument("--batch", type=int, default=8, help="utterances per training step")
    p.add_argument("--steps", type=int, default=5, help="timed steps per variant")
    p.add_argument("--n_prefix", type=int, default=64, help="utterances for prefix lengths")
    p.add_argument("--ctc_steps", type=int, default=150,
                   help="CTC head training steps when no trained model exists")  # fmt: skip
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    p.add_argument("--prefix_only", action="store_true", help="lengths only, no training steps")
    p.add_argument("--out", default=str(RESULTS / "compression.json"))
    return p


def fill_defaults(args: argparse.Namespace) -> argparse.Namespace:
    gpu = args.device.startswith("cuda")
    args.dtype = args.dtype or ("bfloat16" if gpu else "float32")
    args.llm = args.llm or ("7b" if gpu else "default")
    args.encoder = args.encoder or ("hubert_large" if gpu else "default")
    args.decoder_mode = args.decoder_mode or ("lora" if gpu else "full")
    return args


def brief_ctc_training(model, utts, steps: int) -> None:
    """Train encoder + CTC head alone with the CTC loss (for realistic CTC lengths)."""
    tok = model.decoder.tokenizer
    parts = [model.encoder, model.compressor]
    opt = torch.optim.AdamW([p for m in parts for p in m.parameters()], lr=2e-3)
    model.train()
    for i in range(steps):
        chunk = [utts[(i * 8 + j) % len(utts)] for j in range(8)]
        speech, speech_lens = mc.speech_batch([w for _, w, _ in chunk])
        text, text_lens = mc.text_batch(tok, [t for _, _, t in chunk])
        enc, enc_lens = model.encode_batch(speech, speech_lens)
        loss = model.compressor.aux_loss(enc, enc_lens, text, text_lens)
        loss.backward()
        opt.step()
        opt.zero_grad()


@torch.no_grad()
def prefix_lengths(model, utts, device: str) -> Dict[str, float]:
    """Per utterance, each decoded alone: mean encoder frames, LLM prefix and audio
    positions, transcript tokens, and LLM audio positions per transcript token (ratio
    of the sums; CTC blank removal cannot go much below 1: one spike per token)."""
    model.to(device).eval()
    tok = model.decoder.tokenizer
    frames, prefix, audio, tokens = [], [], [], []
    for key, wav, text in utts:
        speech, lens = wav[None].to(device), torch.tensor([wav.numel()], device=device)
        dec = model.prepare_decoding(speech, lens)
        frames.append(int(dec.enc_lens[0]))
        prefix.append(int(dec.prefix_lens[0]))
        audio.append(int(dec.audio_lens[0]))
        tokens.append(len(tok(text, add_special_tokens=False).input_ids))
    n = len(utts)
    return dict(enc_frames=sum(frames) / n, prefix=sum(prefix) / n, audio_pos=sum(audio) / n,
                tokens=sum(tokens) / n, audio_per_token=sum(audio) / max(1, sum(tokens)))  # fmt: skip


def build_variant(args, name, enc_conf, comp, comp_conf, ctc_source: Dict[str, Any], utts):
    """The model of one variant; CTC variants reuse a trained speech side."""
    if comp == "ctc" and ctc_source.get("model") is not None:
        model = ctc_source["model"]
        model.compressor.mode = comp_conf["mode"]
        return model
    if comp == "ctc" and mc.trained_available() and (args.llm, args.encoder) == ("default", "default"):
        model = mc.load_trained()
        ctc_source["what"] = f"trained model {mc.TRAINED.name}/valid.acc.ave.pth"
    else:
        model = mc.build_model(args.encoder, enc_conf, comp, comp_conf, args.llm,
                               args.decoder_mode, args.dtype)  # fmt: skip
    if comp == "ctc":
        if "what" in ctc_source:
            pass
        elif args.device.startswith("cuda"):
            ctc_source["what"] = "random CTC head (GPU sizes: lengths not representative)"
        else:
            print(f"# no trained model: training the CTC head for {args.ctc_steps} steps", file=sys.stderr)
            brief_ctc_training(model, utts, args.ctc_steps)
            ctc_source["what"] = f"CTC head trained here for {args.ctc_steps} steps"
        ctc_source["model"] = model
        model.compressor.mode = comp_conf["mode"]
    return model


def goal_cell(row: Dict[str, Any], ctc_trained: bool) -> str:
    """'yes / no' for the prefix and step goals of one row.

    A CTC head that is not the recipe's trained one emits mostly blanks: its prefix
    (and the step time that follows from it) says nothing about the goals.
    """
    if row["compressor"] == "ctc" and not ctc_trained:
        return "n/a (CTC head not trained)"
    prefix_ok = row["prefix_shorter_x"] >= GOAL_PREFIX
    step_ok = row["step_faster_x"] >= GOAL_STEP
    return f"{'yes' if prefix_ok else 'no'} / {'yes' if step_ok else 'no'}"


def main(argv=None) -> List[Dict[str, Any]]:
    args = fill_defaults(get_parser().parse_args(argv))
    if not cuda_or_skip(args.device, "compression"):
        return []
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    utts = load_utterances(max(args.n_prefix, args.batch))
    ctc_source: Dict[str, Any] = {}
    rows = []
    for name, enc_conf, comp, comp_conf in VARIANTS:
        model = build_variant(args, name, enc_conf, comp, comp_conf, ctc_source, utts)
        lengths = prefix_lengths(model, utts[: args.n_prefix], args.device)
        row = dict(variant=name, compressor=comp, **comp_conf, **lengths)
        if not args.prefix_only:
            chunk = utts[: args.batch]
            speech, speech_lens = mc.speech_batch([w for _, w, _ in chunk])
            text, text_lens = mc.text_batch(model.decoder.tokenizer, [t for _, _, t in chunk])
            batch = dict(speech=speech, speech_lengths=speech_lens, text=text, text_lengths=text_lens)
            step = mc.make_train_step(model, batch, args.device, args.dtype)
            times = timed(step, args.device, args.steps)
            sec = min(times)  # least disturbed by other jobs on a shared machine
            llm_tokens = int(text_lens.sum()) + batch["speech"].size(0) * lengths["prefix"]
            row.update(step_s=sec, step_median_s=median(times), llm_tokens_per_s=llm_tokens / sec)
        rows.append(row)
        print(f"# {name}: prefix {lengths['prefix']:.1f}, step "
              f"{row.get('step_s', float('nan')) * 1e3:.0f} ms", file=sys.stderr)  # fmt: skip
        if comp != "ctc":
            del model
    base = rows[0]
    for r in rows:
        r["prefix_shorter_x"] = base["prefix"] / r["prefix"]
        if "step_s" in r:
            r["step_faster_x"] = base["step_s"] / r["step_s"]
    machine = machine_info(args.device)
    print(machine_line(machine))
    print(f"# model: encoder {args.encoder}, LLM {args.llm} ({args.decoder_mode}, {args.dtype}); "
          f"CTC rows: {ctc_source.get('what', '-')}")  # fmt: skip
    print(f"# {args.n_prefix} utterances for prefix lengths (audio {sum(w.numel() for _, w, _ in utts[:args.n_prefix]) / 16000 / args.n_prefix:.2f} s each on average); "
          + ("no training steps (--prefix_only)" if args.prefix_only else
             f"step = fwd+bwd+AdamW on a batch of {args.batch}, min of {args.steps}"))  # fmt: skip
    headers = ["variant", "enc frames/utt", "LLM audio pos/utt", "tokens/utt", "audio pos/token",
               "LLM prefix/utt", "prefix shorter vs 40 ms"]  # fmt: skip
    if not args.prefix_only:
        headers += ["step ms", "step faster vs 40 ms", f"goal {GOAL_PREFIX:g}x / {GOAL_STEP:g}x"]
    ctc_real = "trained model" in ctc_source.get("what", "")
    table = []
    for r in rows:
        cells = [r["variant"], r["enc_frames"], r["audio_pos"], r["tokens"], r["audio_per_token"],
                 r["prefix"], f"{r['prefix_shorter_x']:.2f}x"]  # fmt: skip
        if not args.prefix_only:
            cells += [r["step_s"] * 1e3, f"{r['step_faster_x']:.2f}x", goal_cell(r, ctc_real)]
        table.append(cells)
    print(format_table(headers, table))
    print("# audio pos/token = LLM audio positions / transcript tokens (sums over the utterances); "
          "CTC blank removal keeps about one position per emitted token, so ~1 is its physical "
          "limit (below 1 only where the head merges or drops tokens, i.e. errs)")  # fmt: skip
    write_result(result("compression", machine, rows, ctc_source=ctc_source.get("what"),
                        config=vars(args)), args.out)  # fmt: skip
    return rows


if __name__ == "__main__":
    main()
