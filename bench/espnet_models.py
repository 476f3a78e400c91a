"""ESPnet's own ``ESPnetASRModel`` built around a trained speech-LLM's weights.

Two models for ``bench/decode_espnet_paths.py``, both decoded by
``espnet2.bin.asr_inference.Speech2Text``:

- ``build_espnet_hf_model``: ESPnet's in-ecosystem LLM-behind-encoder, an
  ``ESPnetASRModel`` whose decoder is ``HuggingFaceTransformersDecoder(causal_lm=True)``,
  carrying the SAME frontend, normalization, encoder, compressor, projector and
  LLM weights as ours. ESPnet has no compressor slot, so ours sits in the
  postencoder slot; its ``linear_in`` is our linear projector; its
  ``prefix``/``postfix`` strings are our prompt tokens before/after the audio::

      ours:   [pre | projector(compressor(encoder(x))) | post] -> LLM
      ESPnet: [prefix | linear_in(postencoder(encoder(x))) | postfix] -> LLM

- ``build_espnet_ctc_att_model``: a conformer CTC/attention ``ESPnetASRModel``
  with our encoder and our compressor's CTC head (ESPnet's CTC layout matches:
  blank 0, LLM token t -> class t + 1; one extra ``<sos/eos>`` class) and a new
  ``TransformerDecoder`` (random unless trained afterwards).

Weights move through ``espnet_hf_state_dict`` / ``ctc_att_state_dict``: a strict
``load_state_dict`` proves every key found its place.
"""

import copy
from typing import Dict, List, Tuple

import torch
from typeguard import typechecked

from espnet2.asr.ctc import CTC
from espnet2.asr.decoder.hugging_face_transformers_decoder import (
    HuggingFaceTransformersDecoder,
)
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.asr.postencoder.abs_postencoder import AbsPostEncoder
from espnet2.tasks.asr import encoder_choices, frontend_choices, normalize_choices
from espnet_speechllm.asr.espnet_model import ESPnetSpeechLLMModel
from espnet_speechllm.asr.projector.linear_projector import LinearProjector

# (our key prefix, ESPnet HF-decoder model key prefix), first match wins.
HF_KEY_RULES: Tuple[Tuple[str, str], ...] = (
    ("frontend.", "frontend."),
    ("normalize.", "normalize."),
    ("encoder.", "encoder."),
    ("compressor.", "postencoder.compressor."),
    ("projector.linear.", "decoder.linear_in."),
    ("decoder.llm.model.", "decoder.decoder."),
    ("decoder.llm.lm_head.", "decoder.lm_head."),
)
# ESPnet registers the LLM's input embedding twice (``decoder_word_embeddings``).
_EMBED = ("decoder.decoder.embed_tokens.", "decoder.decoder_word_embeddings.")
BLANK, SOS_EOS = "<blank>", "<sos/eos>"


class CompressorPostEncoder(AbsPostEncoder):
    """Our compressor in ESPnet's postencoder slot.  ``(B, T, D), (B,) -> (B, T', D), (B,)``"""

    def __init__(self, compressor: torch.nn.Module):
        super().__init__()
        self.compressor = compressor

    def output_size(self) -> int:
        return self.compressor.output_size()

    def forward(
        self, input: torch.Tensor, input_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.compressor(input, input_lengths)


def full_state_dict(ours: ESPnetSpeechLLMModel) -> Dict[str, torch.Tensor]:
    """Our state dict with the LLM always included (frozen/LoRA checkpoints drop it)."""
    sd = {k: v for k, v in ours.state_dict().items() if not k.startswith("decoder.")}
    sd.update({f"decoder.llm.{k}": v for k, v in ours.decoder.causal_lm.state_dict().items()})
    return sd


def espnet_hf_keys(key: str) -> List[str]:
    """Where one of our keys goes in the ESPnet HF-decoder model (1 or 2 keys)."""
    for src, dst in HF_KEY_RULES:
        if key.startswith(src):
            new = dst + key[len(src) :]
            if new.startswith(_EMBED[0]):
                return [new, _EMBED[1] + new[len(_EMBED[0]) :]]
            return [new]
    raise ValueError(f"{key}: no place for this weight in ESPnet's HF-decoder ASR model")


def espnet_hf_state_dict(sd: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Our full state dict renamed for ``build_espnet_hf_model``'s model."""
    return {new: v for k, v in sd.items() for new in espnet_hf_keys(k)}


def ctc_att_state_dict(sd: Dict[str, torch.Tensor], n_extra: int = 1) -> Dict[str, torch.Tensor]:
    """Speech side of our state dict for the CTC/attention model (no decoder keys).

    Our CTC head (blank + LLM vocab classes) gains ``n_extra`` rows for ESPnet's
    ``<sos/eos>``, which CTC never emits (weight 0, bias -1e4).
    """
    out = {k: v for k, v in sd.items() if k.split(".")[0] in ("frontend", "normalize", "encoder")}
    w, b = sd["compressor.ctc.ctc_lo.weight"], sd["compressor.ctc.ctc_lo.bias"]
    out["ctc.ctc_lo.weight"] = torch.cat([w, w.new_zeros(n_extra, w.size(1))])
    out["ctc.ctc_lo.bias"] = torch.cat([b, b.new_full((n_extra,), -1e4)])
    return out


def _speech_side(train_args) -> Tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module]:
    """Frontend, normalize, encoder from ESPnet's ASRTask choice tables and our config."""
    frontend = frontend_choices.get_class(train_args.frontend)(**train_args.frontend_conf)
    normalize = None
    if train_args.normalize is not None:
        normalize = normalize_choices.get_class(train_args.normalize)(
            **train_args.normalize_conf
        )
    encoder = encoder_choices.get_class(train_args.encoder)(
        input_size=frontend.output_size(), **train_args.encoder_conf
    )
    return frontend, normalize, encoder


def check_hf_equivalent(ours: ESPnetSpeechLLMModel) -> None:
    """Raise ValueError where ESPnet's HF decoder has no counterpart of our model."""
    if not isinstance(ours.projector, LinearProjector):
        raise ValueError(
            f"projector {type(ours.projector).__name__}: ESPnet's HF decoder maps the "
            "encoder to the LLM with one Linear (linear_in); use projector: linear"
        )
    if ours.compressor.output_size() == ours.decoder.output_size():
        raise ValueError(
            f"encoder width {ours.compressor.output_size()} == LLM hidden size: ESPnet's HF "
            "decoder then has no linear_in (Identity) to hold our projector"
        )
    if ours.ctc_embedding:
        raise ValueError("model_conf.ctc_embedding has no counterpart in ESPnet's HF decoder")
    if ours.decoder.prefix_attention != "causal" or ours.decoder.mode == "lora":
        raise ValueError(
            f"decoder_conf prefix_attention={ours.decoder.prefix_attention}, "
            f"mode={ours.decoder.mode}: ESPnet's HF decoder is causal with plain weights"
        )


@typechecked
def build_espnet_hf_model(
    ours: ESPnetSpeechLLMModel, train_args, llm_dir: str
) -> ESPnetASRModel:
    """ESPnetASRModel + HuggingFaceTransformersDecoder(causal_lm=True) with our weights.

    Args:
        ours: Trained speech-LLM (eval mode).
        train_args: Its training config (frontend/normalize/encoder confs).
        llm_dir: HF directory of an LLM of the same architecture (ESPnet loads
            it, then our trained LLM weights replace its own).
    """
    check_hf_equivalent(ours)
    tok = ours.decoder.tokenizer
    pre, post = ours.prompt.ids(ours.prompt.eval_prompt)
    prefix, postfix = tok.decode(pre), tok.decode(post)
    for name, text, ids in (("prefix", prefix, pre), ("postfix", postfix, post)):
        if tok.encode(text) != ids:
            raise ValueError(
                f"{name} {text!r} encodes to {tok.encode(text)}, not our prompt ids {ids}"
            )
    frontend, normalize, encoder = _speech_side(train_args)
    decoder = HuggingFaceTransformersDecoder(
        vocab_size=len(ours.token_list),
        encoder_output_size=ours.compressor.output_size(),
        model_name_or_path=llm_dir,
        causal_lm=True,
        prefix=prefix,
        postfix=postfix,
    )
    model = ESPnetASRModel(
        vocab_size=len(ours.token_list),
        token_list=list(ours.token_list),
        frontend=frontend,
        specaug=None,
        normalize=normalize,
        preencoder=None,
        encoder=encoder,
        postencoder=CompressorPostEncoder(copy.deepcopy(ours.compressor)),
        decoder=decoder,
        ctc=CTC(odim=len(ours.token_list), encoder_output_size=encoder.output_size()),
        joint_network=None,
        ctc_weight=0.0,  # the HF decoding path never uses CTC
    )
    model.load_state_dict(espnet_hf_state_dict(full_state_dict(ours)), strict=True)
    # NOTE: ESPnet embeds prefix/postfix once, at build time, with the LLM it
    # loaded; re-embed them with the transplanted (trained) embedding table.
    emb = decoder.decoder_word_embeddings
    with torch.no_grad():
        decoder.prefix = emb(torch.tensor([pre], dtype=torch.long)).detach()
        decoder.postfix = emb(torch.tensor([post], dtype=torch.long)).detach()
    return model.eval()


@typechecked
def build_espnet_ctc_att_model(
    ours: ESPnetSpeechLLMModel,
    train_args,
    decoder_conf: Dict,
    ctc_weight: float = 0.3,
) -> ESPnetASRModel:
    """Conformer CTC/attention ESPnetASRModel: our encoder + CTC head, a new decoder.

    Token list: ``<blank>``, our LLM tokens (id t -> t + 1), ``<sos/eos>``.

    Args:
        ours: Trained speech-LLM with a CTC compressor.
        train_args: Its training config.
        decoder_conf: ``TransformerDecoder`` arguments (attention_heads, linear_units,
            num_blocks, ...); the attention width is the encoder's.
        ctc_weight: Training CTC weight stored in the model.
    """
    if ours.compressor.ctc_head is None:
        raise ValueError(f"compressor {type(ours.compressor).__name__} has no CTC head")
    token_list = [BLANK] + list(ours.token_list) + [SOS_EOS]
    frontend, normalize, encoder = _speech_side(train_args)
    model = ESPnetASRModel(
        vocab_size=len(token_list),
        token_list=token_list,
        frontend=frontend,
        specaug=None,
        normalize=normalize,
        preencoder=None,
        encoder=encoder,
        postencoder=None,
        decoder=TransformerDecoder(len(token_list), encoder.output_size(), **decoder_conf),
        ctc=CTC(odim=len(token_list), encoder_output_size=encoder.output_size()),
        joint_network=None,
        ctc_weight=ctc_weight,
        report_cer=False,
        report_wer=False,
    )
    missing, unexpected = model.load_state_dict(
        ctc_att_state_dict(full_state_dict(ours)), strict=False
    )
    left = [k for k in missing if not k.startswith("decoder.")]
    if left or unexpected:
        raise ValueError(f"CTC/attention transplant: missing {left}, unexpected {unexpected}")
    return model.eval()
