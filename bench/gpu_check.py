#!/usr/bin/env python3
"""GPU check: a 7B-LLaMA-sized LoRA speech-LLM in bf16 on one CUDA device, in < 5 minutes.

Builds the model through ``SpeechLLMTask.build_model`` (our classes, random weights,
nothing downloaded): Whisper-tiny-sized ``hf_whisper`` encoder (4 x 384, from a
``WhisperConfig``) -> ``stack`` x4 -> ``mlp`` projector -> ``hf_llm`` LoRA (r 16 on
q/k/v/o) on a LLaMA-7B-sized Llama (4096 x 32 layers, 32 heads, FFN 11008, vocab 32000),
stored in bf16 (``decoder_conf.dtype``; peft keeps the LoRA adapters fp32) and run under
the model's own bf16 switches (``model_conf.encoder_autocast``, ``decoder_conf.autocast``).
Then prints one table:

- training: forward + backward + AdamW on a batch of random audio and text: step time
  (median), LLM tokens/s (prefix + text positions), MFU (FLOPs counted with
  ``FlopCounterMode`` / the measured bf16 ``torch.mm`` peak of this device) and peak
  memory (``torch.cuda.max_memory_allocated``; goal <= 24 GB);
- decoding: ``Speech2TextLLM.batch`` (greedy, KV cache, one batched ``generate``) on a
  batch of random audio: RTFx = audio seconds / decode seconds, and its peak memory.

Without CUDA it prints ``SKIP`` and exits 0. ``--tiny`` runs the same code path with
tiny sizes on the CPU (for the unit test; bf16 where the CPU has native kernels).

    bench/gpu_check.sh            # = bench/run.sh gpu_check
    bench/gpu_check.sh --tiny
"""

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple
from unittest import mock

import torch

from bench.common import timed

GOAL_PEAK_GIB = 24.0
WHISPER_TINY = dict(d_model=384, encoder_layers=4, encoder_attention_heads=6,
                    encoder_ffn_dim=1536, num_mel_bins=80, max_source_positions=1500,
                    decoder_layers=1, decoder_attention_heads=6,
                    decoder_ffn_dim=64)  # fmt: skip  (HFWhisperEncoder drops the decoder)
LLAMA_7B = dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                num_attention_heads=32, num_key_value_heads=32, vocab_size=32000)  # fmt: skip
TINY_WHISPER = dict(WHISPER_TINY, d_model=16, encoder_layers=1, encoder_attention_heads=2,
                    encoder_ffn_dim=32, decoder_attention_heads=2)  # fmt: skip
TINY_LLAMA = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, num_key_value_heads=2, vocab_size=512)  # fmt: skip
# Defaults per size: batch x seconds of audio for training and for decoding.
SIZES = dict(
    full=dict(whisper=WHISPER_TINY, llm=LLAMA_7B, projector_hidden=2048, batch=4,
              audio_s=10.0, steps=5, decode_batch=16, gemm_sizes=[4096, 8192]),
    tiny=dict(whisper=TINY_WHISPER, llm=TINY_LLAMA, projector_hidden=32, batch=2,
              audio_s=1.0, steps=2, decode_batch=2, gemm_sizes=[256]),
)  # fmt: skip
TOKENS_PER_S = 6.5  # transcript tokens per audio second (the espeak_en test set's rate)
COLUMNS = ["phase", "batch", "audio s", "LLM tokens", "step s", "tokens/s", "MFU",
           "peak GiB", "RTFx", "goal"]  # fmt: skip


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny sizes on the CPU (unit test)")
    p.add_argument("--device", default=None, help="default: cuda (cpu with --tiny)")
    p.add_argument("--batch", type=int, default=None, help="training utterances per step")
    p.add_argument("--audio_s", type=float, default=None, help="seconds per utterance")
    p.add_argument("--steps", type=int, default=None, help="timed training steps")
    p.add_argument("--decode_batch", type=int, default=None)
    p.add_argument("--gradient_checkpointing", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="JSON record (default bench/results/gpu_check.json)")
    return p


# ------------------------------------------------------------------ model
def _tokenizer(out_dir: Path, size: int) -> Path:
    """A byte-level BPE trained on made-up words: no data or download needed."""
    from espnet_speechllm.llm.train_tokenizer import train_tokenizer

    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 8)))
             for _ in range(2000)]  # fmt: skip
    texts = [" ".join(rng.choices(words, k=12)) for _ in range(2000)]
    train_tokenizer(texts, size, str(out_dir))
    return out_dir


def train_args(sizes: Dict[str, Any], tokenizer: Path, dtype: str, grad_ckpt: bool):
    """The training config namespace of the checked model (as ``config.yaml`` would give)."""
    from transformers import AutoTokenizer

    from bench.model_configs import CONF, LORA
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    args = SpeechLLMTask.get_parser().parse_args(["--config", str(CONF)])
    args.frontend, args.frontend_conf, args.input_size = None, {}, 1
    args.specaug, args.normalize = None, None
    args.encoder, args.encoder_conf = "hf_whisper", dict(config=dict(sizes["whisper"]))
    args.compressor, args.compressor_conf = "stack", dict(stride=4)
    args.projector, args.projector_conf = "mlp", dict(hidden_size=sizes["projector_hidden"])
    llm = dict(model_type="llama", bos_token_id=1, eos_token_id=2, pad_token_id=0,
               max_position_embeddings=4096, tie_word_embeddings=False, **sizes["llm"])  # fmt: skip
    low = None if dtype == "float32" else dtype
    args.decoder_conf = dict(config=llm, mode="lora", lora_conf=dict(LORA), dtype=dtype,
                             autocast=low, gradient_checkpointing=grad_ckpt)  # fmt: skip
    args.model_conf = dict(prompt="", ctc_weight=0.0, lsm_weight=0.1, encoder_autocast=low)
    args.bpemodel = str(tokenizer)
    tok = AutoTokenizer.from_pretrained(tokenizer)
    args.token_list = tok.convert_ids_to_tokens(list(range(len(tok))))
    return args


def build(args: argparse.Namespace, device: torch.device) -> torch.nn.Module:
    """``SpeechLLMTask.build_model`` with parameters created on ``device`` (a 7B random
    init on the CPU alone would take minutes)."""
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    try:
        with torch.device(device):
            model = SpeechLLMTask.build_model(args)
    except Exception as e:  # some part refused the device context: build on the CPU
        print(f"# building on {device} failed ({type(e).__name__}: {e}); building on the CPU")
        model = SpeechLLMTask.build_model(args)
    return model.to(device)


# ------------------------------------------------------------------ data
def random_batch(n: int, seconds: float, vocab: int, device: torch.device, seed: int):
    """Noise waveforms and random transcripts of the corpus' token rate.
    -> speech (n, S), speech_lengths (n,), text (n, L), text_lengths (n,)"""
    g = torch.Generator().manual_seed(seed)
    samples, n_tok = int(seconds * 16000), max(1, round(TOKENS_PER_S * seconds))
    speech = 0.1 * torch.randn(n, samples, generator=g)
    text = torch.randint(3, vocab, (n, n_tok), generator=g)
    lens = lambda x: torch.full((n,), x.size(1), dtype=torch.long)  # noqa: E731
    return {k: v.to(device) for k, v in dict(speech=speech, speech_lengths=lens(speech),
                                                text=text, text_lengths=lens(text)).items()}  # fmt: skip


# ------------------------------------------------------------------ phases
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def peak_gib(device: torch.device, out: Dict[str, float]):
    """Peak allocated CUDA memory in the block (GiB) into ``out['peak_gib']`` (None on CPU)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    yield
    out["peak_gib"] = (
        torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None
    )


def train_phase(model, batch: Dict[str, torch.Tensor], steps: int, device, dtype: str,
                gemm_sizes: Sequence[int]) -> Dict[str, Any]:  # fmt: skip
    """Median step time, LLM tokens/s, MFU and peak memory of fwd + bwd + AdamW."""
    from bench.mfu import count_flops, gemm_peak

    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    stats_box: Dict[str, Any] = {}

    def step() -> None:
        loss, stats, _ = model(**batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        stats_box.update(stats)

    res: Dict[str, Any] = {}
    with peak_gib(device, res):
        # 1 warm-up step (allocator, kernels, optimizer state)
        times = timed(step, str(device), steps, warmup=1)
    step_s = statistics.median(times)
    n = batch["speech"].size(0)
    tokens = n * (float(stats_box["prefix_length"]) + float(batch["text_lengths"].float().mean()) + 1)

    def fwd_bwd() -> None:
        loss, _, _ = model(**batch)
        loss.backward()

    flops, _ = count_flops(fwd_bwd)
    model.zero_grad(set_to_none=True)
    peak, _ = gemm_peak(str(device), getattr(torch, dtype), gemm_sizes, seconds=0.3)
    res.update(step_s=step_s, step_times=times, llm_tokens=tokens, tokens_per_s=tokens / step_s,
               flops_per_step=flops, gemm_peak_flops=peak, mfu=flops / step_s / peak,
               loss=float(stats_box["loss"]))  # fmt: skip
    return res


def decode_phase(model, args: argparse.Namespace, device, dtype: str, n: int, seconds: float,
                 seed: int) -> Dict[str, Any]:  # fmt: skip
    """RTFx of ``Speech2TextLLM.batch`` (greedy) on n utterances, and its peak memory."""
    from espnet_speechllm.bin.speech2text_llm import Speech2TextLLM
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    model.eval()
    # Speech2TextLLM reads a model from files; hand it the one in memory instead.
    with mock.patch.object(SpeechLLMTask, "build_model_from_file", return_value=(model, args)):
        s2t = Speech2TextLLM(None, None, device=str(device), dtype=dtype,
                             max_tokens_per_second=TOKENS_PER_S)  # fmt: skip
    wavs = list(random_batch(n, seconds, 10, torch.device("cpu"), seed + 1)["speech"])
    s2t.batch(wavs[:2])  # warm-up
    res: Dict[str, Any] = {}
    with peak_gib(device, res):
        _sync(device)
        start = time.perf_counter()
        hyps = s2t.batch(wavs)
        _sync(device)
        sec = time.perf_counter() - start
    new_tokens = sum(len(h[0].token_ids) for h in hyps)
    res.update(seconds=sec, audio_s=n * seconds, rtfx=n * seconds / sec,
               new_tokens=new_tokens, tokens_per_s=new_tokens / sec)  # fmt: skip
    return res


# ------------------------------------------------------------------ main
def _cell(x: Optional[float], fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def rows(train: Dict[str, Any], dec: Dict[str, Any], batch: int, dec_batch: int,
         seconds: float) -> List[List[str]]:  # fmt: skip
    peak = train["peak_gib"]
    goal = "-" if peak is None else ("yes" if peak <= GOAL_PEAK_GIB else "no")
    return [
        ["train", str(batch), _cell(batch * seconds, ".1f"), _cell(train["llm_tokens"], ".0f"),
         _cell(train["step_s"], ".4g"), _cell(train["tokens_per_s"], ".4g"),
         # 3 significant digits: a tiny model's MFU (the CPU test) is far below 0.1%
         f"{100 * train['mfu']:.3g}%", _cell(peak, ".2f"), "-", f"peak <= {GOAL_PEAK_GIB:g} GB: {goal}"],
        ["decode", str(dec_batch), _cell(dec["audio_s"], ".1f"), str(dec["new_tokens"]),
         _cell(dec["seconds"], ".4g"), _cell(dec["tokens_per_s"], ".4g"), "-",
         _cell(dec["peak_gib"], ".2f"), _cell(dec["rtfx"], ".4g"), "-"],
    ]  # fmt: skip


def main(argv: Optional[Sequence[str]] = None) -> int:
    a = get_parser().parse_args(argv)
    device = torch.device(a.device or ("cpu" if a.tiny else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"SKIP gpu_check: torch {torch.__version__} sees no CUDA device; GPU figures "
              "not measured (--tiny runs the code path on the CPU)")  # fmt: skip
        return 0
    from bench.common import RESULTS, format_table, machine_info, machine_line, result, write_result
    from espnet_speechllm.utils.low_precision import native_on

    sizes = SIZES["tiny" if a.tiny else "full"]
    batch, seconds = a.batch or sizes["batch"], a.audio_s or sizes["audio_s"]
    steps, dec_batch = a.steps or sizes["steps"], a.decode_batch or sizes["decode_batch"]
    dtype = "bfloat16" if native_on(device.type, torch.bfloat16, "gpu_check") else "float32"
    torch.manual_seed(a.seed)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        args = train_args(sizes, _tokenizer(Path(tmp) / "tok", 300), dtype, a.gradient_checkpointing)
        t_build = time.perf_counter()
        model = build(args, device)
        build_s = time.perf_counter() - t_build
        n_params = sum(p.numel() for p in model.parameters())
        n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
        data = random_batch(batch, seconds, len(model.decoder.tokenizer), device, a.seed)
        train = train_phase(model, data, steps, device, dtype, sizes["gemm_sizes"])
        del data
        dec = decode_phase(model, args, device, dtype, dec_batch, seconds, a.seed)
    machine = machine_info(str(device))
    print(machine_line(machine))
    print(f"# model: Whisper encoder {sizes['whisper']['encoder_layers']} x "
          f"{sizes['whisper']['d_model']} -> stack x4 -> MLP -> Llama "
          f"{sizes['llm']['num_hidden_layers']} x {sizes['llm']['hidden_size']} (vocab "
          f"{sizes['llm']['vocab_size']}) LoRA r {args.decoder_conf['lora_conf']['r']}, {dtype}; "
          f"{n_params / 1e6:.1f} M params, {n_train / 1e6:.2f} M trained; built in {build_s:.1f} s")  # fmt: skip
    print(f"# train: fwd+bwd+AdamW, median of {steps} after 1 warm-up, random audio "
          f"{seconds:g} s/utt, {TOKENS_PER_S} text tokens/s; MFU = counted FLOPs / step / measured "
          f"{dtype} torch.mm peak ({train['gemm_peak_flops'] / 1e9:.1f} GFLOP/s); decode: "
          f"Speech2TextLLM.batch greedy, {TOKENS_PER_S} new tokens/s cap")  # fmt: skip
    print(format_table(COLUMNS, rows(train, dec, batch, dec_batch, seconds)))
    print(f"# total {time.perf_counter() - t0:.1f} s")
    out = a.out or str(RESULTS / ("gpu_check_tiny.json" if a.tiny else "gpu_check.json"))
    res = result("gpu_check", machine, [dict(phase="train", **train), dict(phase="decode", **dec)],
                 dtype=dtype, params=n_params, trained_params=n_train, build_s=build_s)  # fmt: skip
    write_result(res, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
