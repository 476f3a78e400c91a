"""Models the benchmarks time: the default recipe model, LLM sizes, the GPU-sized model.

Everything is built from the default recipe config
(egs2/espeak_en/speechllm1/conf/tuning/train_speechllm_conformer_ctc_scratchlm.yaml)
through ``SpeechLLMTask.build_model``, with random weights unless the recipe's
trained model is loaded (`load_trained`).
"""

import contextlib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch

from bench.common import RECIPE, RESULTS

CONF = RECIPE / "conf" / "tuning" / "train_speechllm_conformer_ctc_scratchlm.yaml"
# The default run's exp dir: speechllm.sh tags it <config>_<llm> (before: <config> alone).
_TAGS = ("speechllm_conformer_ctc_scratchlm_scratch_lm_bpe500", "speechllm_conformer_ctc_scratchlm")
TRAINED = next((RECIPE / "exp" / t for t in _TAGS if (RECIPE / "exp" / t).is_dir()),
               RECIPE / "exp" / _TAGS[0])  # fmt: skip
LLM_DIR = RECIPE / "exp" / "llm_scratch_lm_bpe500"  # speechllm.sh stage 8 (was exp/llm)

_COMMON = dict(model_type="llama", bos_token_id=1, eos_token_id=2, pad_token_id=0)
# Random-weight Llama configs. "default" is the recipe's from-scratch LM (exp/llm_scratch_lm_bpe500);
# 135m / 360m follow SmolLM2-135M / -360M; 7b follows LLaMA-7B.
LLM_SIZES: Dict[str, Dict[str, Any]] = dict(
    default=dict(hidden_size=256, intermediate_size=768, num_hidden_layers=4,
                 num_attention_heads=4, num_key_value_heads=4, vocab_size=500,
                 tie_word_embeddings=True),
    **{"135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                    num_attention_heads=9, num_key_value_heads=3, vocab_size=49152,
                    tie_word_embeddings=True),
       "360m": dict(hidden_size=960, intermediate_size=2560, num_hidden_layers=32,
                    num_attention_heads=15, num_key_value_heads=5, vocab_size=49152,
                    tie_word_embeddings=True),
       "7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=32, vocab_size=32000,
                  tie_word_embeddings=False)},
)  # fmt: skip
# (encoder, encoder_conf): None keeps the recipe's conformer and its conf. "hubert_large"
# is an ESPnet transformer with HuBERT-large's sizes (24 x 1024, 16 heads, 4096 FFN,
# ~330M params) on fbank + conv2d input instead of HuBERT's waveform CNN.
ENCODERS: Dict[str, Optional[Tuple[str, Dict[str, Any]]]] = dict(
    default=None,
    hubert_large=("transformer", dict(output_size=1024, attention_heads=16,
                                      linear_units=4096, num_blocks=24, input_layer="conv2d",
                                      normalize_before=True)),
)  # fmt: skip
LORA = dict(r=16, lora_alpha=32)


def llm_config(size: str, max_positions: int = 4096) -> Dict[str, Any]:
    """A Llama config dict for ``decoder_conf.config``; "default" reads the recipe LLM if present."""
    if size not in LLM_SIZES:
        raise ValueError(f"unknown LLM size {size!r}: choose from {sorted(LLM_SIZES)}")
    cfg = dict(_COMMON, max_position_embeddings=max_positions, **LLM_SIZES[size])
    if size == "default" and (LLM_DIR / "config.json").exists():
        saved = json.loads((LLM_DIR / "config.json").read_text())
        for key in LLM_SIZES["default"]:
            cfg[key] = saved[key]
    return cfg


def tokenizer_dir() -> Path:
    """The recipe LLM's tokenizer, else a 500-token BPE trained on mini_an4 (cached)."""
    if (LLM_DIR / "tokenizer.json").exists():
        return LLM_DIR
    out = RESULTS / "_tokenizer"
    if not (out / "tokenizer.json").exists():
        from bench.common import load_utterances
        from espnet_speechllm.llm.train_tokenizer import train_tokenizer

        texts = [t for _, _, t in load_utterances(1000)] * 4
        train_tokenizer(texts, 500, str(out))
    return out


def build_model(
    encoder: str = "default",
    encoder_conf: Optional[Dict[str, Any]] = None,
    compressor: str = "ctc",
    compressor_conf: Optional[Dict[str, Any]] = None,
    llm: str = "default",
    decoder_mode: str = "full",
    dtype: str = "float32",
) -> torch.nn.Module:
    """The recipe model with the given parts swapped, random weights.

    Args:
        encoder: Key of ENCODERS, then `encoder_conf` on top.
        compressor: identity / stack / conv / ctc, with `compressor_conf`.
        llm: Key of LLM_SIZES.
        decoder_mode: full / lora / frozen.
        dtype: LLM weight dtype.
    """
    from transformers import AutoTokenizer

    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    tok = tokenizer_dir()
    args = SpeechLLMTask.get_parser().parse_args(["--config", str(CONF)])
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}: choose from {sorted(ENCODERS)}")
    if ENCODERS[encoder] is not None:
        args.encoder, args.encoder_conf = ENCODERS[encoder][0], dict(ENCODERS[encoder][1])
    args.encoder_conf = dict(args.encoder_conf, **(encoder_conf or {}))
    args.compressor = compressor
    args.compressor_conf = dict(compressor_conf or {})
    args.decoder_conf = dict(args.decoder_conf, mode=decoder_mode, config=llm_config(llm),
                             dtype=dtype)  # fmt: skip
    if decoder_mode == "lora":
        args.decoder_conf["lora_conf"] = dict(LORA)
    args.bpemodel = str(tok)
    t = AutoTokenizer.from_pretrained(tok)
    args.token_list = t.convert_ids_to_tokens(list(range(len(t))))
    return SpeechLLMTask.build_model(args)


def trained_available() -> bool:
    return (TRAINED / "valid.acc.ave.pth").exists() and (TRAINED / "config.yaml").exists()


def load_trained(device: str = "cpu") -> torch.nn.Module:
    """The recipe's trained model (``TRAINED``/valid.acc.ave.pth)."""
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    if not trained_available():
        raise FileNotFoundError(f"no trained model in {TRAINED}")
    with contextlib.chdir(RECIPE):  # its config holds recipe-relative paths
        model, _ = SpeechLLMTask.build_model_from_file(
            f"exp/{TRAINED.name}/config.yaml",
            f"exp/{TRAINED.name}/valid.acc.ave.pth",
            device,
        )
    return model


def transplant_speech_side(src: torch.nn.Module, dst: torch.nn.Module) -> List[str]:
    """Give `dst` the frontend/normalize/encoder/compressor weights of `src`.

    A part of another class (e.g. global_mvn vs utterance_mvn) is copied whole.
    Returns the parts handled.
    """
    import copy

    done = []
    for part in ("frontend", "normalize", "encoder", "compressor"):
        a, b = getattr(src, part, None), getattr(dst, part, None)
        if a is None:
            continue
        if type(a) is type(b):
            b.load_state_dict(a.state_dict())
        else:
            setattr(dst, part, copy.deepcopy(a))
        done.append(part)
    return done


def text_batch(tokenizer, texts: List[str]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Token ids padded with -1.  [str] * B -> (B, L), (B,)"""
    ids = [tokenizer(t, add_special_tokens=False).input_ids for t in texts]
    lens = torch.tensor([len(i) for i in ids])
    pad = torch.full((len(ids), int(lens.max())), -1, dtype=torch.long)
    for b, seq in enumerate(ids):
        pad[b, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return pad, lens


def speech_batch(wavs: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Zero-padded waveforms.  [(S_b,)] * B -> (B, S), (B,)"""
    lens = torch.tensor([w.numel() for w in wavs])
    return torch.nn.utils.rnn.pad_sequence(wavs, batch_first=True), lens


def count_params(module: torch.nn.Module, trainable: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable)


def autocast(device: str, dtype: str):
    """bf16/fp16 autocast on CUDA; a no-op context for float32 or CPU."""
    if dtype == "float32" or not device.startswith("cuda"):
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=getattr(torch, dtype))


def make_train_step(model, batch: Dict[str, torch.Tensor], device: str, dtype: str = "float32"):
    """A closure running one forward + backward + AdamW step; returns its stats.

    Args:
        model: An ESPnetSpeechLLMModel (put in train mode here).
        batch: speech, speech_lengths, text, text_lengths (moved to `device`).
    """
    model.to(device).train()
    batch = {k: v.to(device) for k, v in batch.items()}
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)  # tiny lr: the timing, not learning

    def step() -> Dict[str, torch.Tensor]:
        with autocast(device, dtype):
            loss, stats, _ = model(**batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return stats

    return step
