"""Training mode of the speech encoder: ``frozen`` | ``lora`` | ``full`` (model_conf.encoder_mode).

The encoder-side twin of ``decoder_conf.mode``:

- ``frozen``: no encoder parameter trains.
- ``lora``: peft LoRA adapters are injected in place into the attention
  linears (ESPnet conformer/transformer: ``linear_q/k/v/out``; an encoder
  class can name its own in ``lora_target_modules``, e.g. HF Whisper's
  ``q/k/v/out_proj``); only the adapters train. The wrapped linears'
  ``X.base_layer.weight`` keys are saved and loaded as ``X.weight``, so a
  checkpoint of the plain encoder (``--init_param`` of a CTC-pretrained
  conformer) still loads into the LoRA model, and ESPnet's key filter keeps it.
- ``full``: everything trains.

Frozen weights stay in checkpoints, except for an encoder whose
``reloads_pretrained()`` is true (weights read from a pretrained directory
when the model is built, like the LLM's). Buffers are not parameters: a
frozen conformer's BatchNorm statistics still follow the training data.
"""

import logging
from typing import Any, Dict, List, Optional, Set

import torch

ENCODER_MODES = ("frozen", "lora", "full")
ESPNET_LORA_TARGETS = ["linear_q", "linear_k", "linear_v", "linear_out"]
_BASE = ".base_layer."


def lora_targets(encoder: torch.nn.Module) -> List[str]:
    """The module names LoRA wraps by default in ``encoder``."""
    return list(getattr(encoder, "lora_target_modules", ESPNET_LORA_TARGETS))


def set_encoder_mode(
    encoder: torch.nn.Module, mode: str, lora_conf: Optional[Dict[str, Any]] = None
) -> None:
    """Freeze ``encoder``, wrap it with LoRA, or leave it fully trainable (in place).

    Args:
        encoder: The speech encoder.
        mode: ``frozen`` | ``lora`` | ``full``.
        lora_conf: peft ``LoraConfig`` fields (r, lora_alpha, lora_dropout,
            target_modules) for ``lora``.
    """
    if mode not in ENCODER_MODES:
        raise ValueError(f"model_conf.encoder_mode={mode!r}: choose from {ENCODER_MODES}")
    if lora_conf and mode != "lora":
        raise ValueError(
            f"model_conf.encoder_lora_conf is set but model_conf.encoder_mode={mode!r}"
        )
    if mode == "full":
        return
    if mode == "lora":
        from peft import LoraConfig, inject_adapter_in_model

        conf = dict(target_modules=lora_targets(encoder), r=8, lora_alpha=16)
        conf.update(lora_conf or {})
        try:
            inject_adapter_in_model(LoraConfig(**conf), encoder)
        except ValueError as e:
            raise ValueError(
                f"model_conf.encoder_lora_conf: cannot inject LoRA into "
                f"{type(encoder).__name__} ({e})"
            ) from e
    for name, p in encoder.named_parameters():
        p.requires_grad_(mode == "lora" and "lora_" in name)
    n_train = sum(p.numel() for p in encoder.parameters() if p.requires_grad)
    logging.info(f"Encoder mode {mode}: {n_train} trainable encoder parameters")

    reloads = getattr(encoder, "reloads_pretrained", lambda: False)()
    encoder._frozen_keys = _frozen_keys(encoder) if reloads else set()
    encoder._register_state_dict_hook(_save_hook)
    encoder.register_load_state_dict_pre_hook(_load_pre_hook)
    encoder.register_load_state_dict_post_hook(_load_post_hook)


def _frozen_keys(encoder: torch.nn.Module) -> Set[str]:
    """Names (as saved, relative) of the parameters that do not train."""
    return {
        n.replace(_BASE, ".") for n, p in encoder.named_parameters() if not p.requires_grad
    }


def _save_hook(module, state_dict, prefix: str, local_metadata) -> None:
    for key in [k for k in state_dict if k.startswith(prefix)]:
        plain = key.replace(_BASE, ".")
        value = state_dict.pop(key)
        if plain[len(prefix) :] not in module._frozen_keys:
            state_dict[plain] = value


def _load_pre_hook(module, state_dict, prefix: str, *args) -> None:
    # X.weight -> X.base_layer.weight for the linears LoRA wrapped.
    wrapped = {n for n, m in module.named_modules() if hasattr(m, "base_layer")}
    for key in [k for k in state_dict if k.startswith(prefix)]:
        owner, _, leaf = key[len(prefix) :].rpartition(".")
        if owner in wrapped and leaf in ("weight", "bias"):
            state_dict[f"{prefix}{owner}.base_layer.{leaf}"] = state_dict.pop(key)


def _load_post_hook(module, incompatible) -> None:
    # Frozen pretrained weights come from the pretrained directory at build time.
    frozen = module._frozen_keys
    if not frozen:
        return
    incompatible.missing_keys[:] = [
        k for k in incompatible.missing_keys
        if not _endswith_any(k.replace(_BASE, "."), frozen)
    ]  # fmt: skip


def _endswith_any(key: str, names: Set[str]) -> bool:
    """``key`` (with its parents' prefix) names one of ``names``."""
    parts = key.split(".")
    return any(".".join(parts[i:]) in names for i in range(len(parts)))
