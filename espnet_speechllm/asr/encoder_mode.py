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
when the model is built, like the LLM's; see ``asr/frozen_weights.py``).
Buffers are not parameters: a frozen conformer's BatchNorm statistics still
follow the training data.
"""

import logging
from typing import Any, Dict, List, Optional

import torch

from espnet_speechllm.asr.frozen_weights import keep_trained_only, untrained_keys

ENCODER_MODES = ("frozen", "lora", "full")
ESPNET_LORA_TARGETS = ["linear_q", "linear_k", "linear_v", "linear_out"]


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

    # Frozen pretrained weights come from the pretrained directory at build time.
    reloads = getattr(encoder, "reloads_pretrained", lambda: False)()
    untrained = untrained_keys(encoder, buffers=False) if reloads else set()
    keep_trained_only(encoder, untrained, plain_lora_keys=True)
