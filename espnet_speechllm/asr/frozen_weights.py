"""Checkpoints that hold only what trained: the frozen pretrained weights stay out.

Weights that a module reloads from its pretrained directory when it is built
(a frozen or LoRA LLM, a frozen or LoRA HF Whisper encoder) need not be saved:
``keep_trained_only`` leaves them out of ``state_dict()`` and accepts their
absence in ``load_state_dict(strict=True)``. Used by ``HFLLMDecoder`` and
``set_encoder_mode``.

With ``plain_lora_keys`` (LoRA injected in place into a plain module), peft's
``X.base_layer.weight`` is saved and loaded as ``X.weight``, so that a checkpoint
of the module without LoRA still fits, and back.
"""

import functools
import logging
from typing import Iterable, Set

import torch

_BASE = ".base_layer."


def plain_name(key: str) -> str:
    """``a.q.base_layer.weight -> a.q.weight``: the key of a LoRA-wrapped linear as
    the plain module names it."""
    return key.replace(_BASE, ".")


def untrained_keys(module: torch.nn.Module, buffers: bool) -> Set[str]:
    """State-dict keys of ``module`` (relative to it) that do not train.

    Args:
        module: The module, before ``keep_trained_only`` is applied to it.
        buffers: Also count its persistent buffers (else parameters only, and a
            frozen BatchNorm's statistics are still saved).
    """
    trained = {n for n, p in module.named_parameters() if p.requires_grad}
    if buffers:
        keys: Iterable[str] = module.state_dict().keys()
    else:
        keys = (n for n, _ in module.named_parameters())
    return {k for k in keys if k not in trained}


def keep_trained_only(
    module: torch.nn.Module, untrained: Iterable[str], plain_lora_keys: bool = False
) -> None:
    """Leave ``untrained`` out of ``module``'s state dict, and tolerate their absence.

    Args:
        module: Registers its state-dict hooks (in place).
        untrained: Keys relative to ``module`` that come from the pretrained
            directory at build time (``untrained_keys``); empty: save everything.
        plain_lora_keys: Save and load ``X.base_layer.W`` as ``X.W``.
    """
    rename = plain_name if plain_lora_keys else None
    saved = frozenset(rename(k) if rename else k for k in untrained)
    module._register_state_dict_hook(functools.partial(_save_hook, saved, rename))
    if plain_lora_keys:
        module.register_load_state_dict_pre_hook(_plain_to_base_layer)
    module.register_load_state_dict_post_hook(
        functools.partial(_ignore_missing, saved, rename)
    )


def _save_hook(untrained, rename, module, state_dict, prefix: str, local_metadata) -> None:
    # Popped and put back in order: the module's keys are the last ones when its hook runs.
    for key in [k for k in state_dict if k.startswith(prefix)]:
        value = state_dict.pop(key)
        new = rename(key) if rename else key
        if new[len(prefix) :] not in untrained:
            state_dict[new] = value


def _plain_to_base_layer(module, state_dict, prefix: str, *args) -> None:
    # X.weight -> X.base_layer.weight for the linears LoRA wrapped.
    wrapped = {n for n, m in module.named_modules() if hasattr(m, "base_layer")}
    for key in [k for k in state_dict if k.startswith(prefix)]:
        owner, _, leaf = key[len(prefix) :].rpartition(".")
        if owner in wrapped and leaf in ("weight", "bias"):
            state_dict[f"{prefix}{owner}.base_layer.{leaf}"] = state_dict.pop(key)


def _ignore_missing(untrained, rename, module, incompatible) -> None:
    # Keys arrive with the parents' prefix: match any suffix.
    if not untrained:
        return
    missing = [
        k for k in incompatible.missing_keys
        if not _endswith_any(rename(k) if rename else k, untrained)
    ]  # fmt: skip
    if len(missing) != len(incompatible.missing_keys):
        logging.debug(f"{type(module).__name__}: frozen weights taken from the pretrained model")
    incompatible.missing_keys[:] = missing


def _endswith_any(key: str, names: Set[str]) -> bool:
    """``key`` (with its parents' prefix) names one of ``names``."""
    parts = key.split(".")
    return any(".".join(parts[i:]) in names for i in range(len(parts)))
