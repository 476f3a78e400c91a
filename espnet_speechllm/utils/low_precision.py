"""bf16 / fp16 on any device: autocast where kernels are native, fp32 where not.

One place for the config switches ``model_conf.encoder_autocast``,
``decoder_conf.autocast`` and ``decoder_conf.frozen_dtype``: ESPnet's
``--use_amp`` autocasts on CUDA only, while a CPU with AVX512-BF16 / AMX runs
bf16 GEMMs 2-6x faster than fp32 (and one without them would run slower, so
there the switches fall back to fp32 with a warning).
"""

import contextlib
import functools
import logging
from typing import ContextManager, Optional

import torch

AUTOCAST_DTYPES = {None: None, "bfloat16": torch.bfloat16, "float16": torch.float16}


def autocast_dtype(name: Optional[str], key: str) -> Optional[torch.dtype]:
    """The dtype a config value names (None: fp32).  ``key`` names the config entry in errors."""
    if name not in AUTOCAST_DTYPES:
        raise ValueError(f"{key}={name!r}: choose from {[k for k in AUTOCAST_DTYPES if k]} or null")
    return AUTOCAST_DTYPES[name]


def cpu_has_native(dtype: torch.dtype) -> bool:
    """Whether oneDNN has native ``dtype`` kernels on this CPU (avx512_bf16 / amx / fp16)."""
    return {
        torch.bfloat16: torch.ops.mkldnn._is_mkldnn_bf16_supported,
        torch.float16: torch.ops.mkldnn._is_mkldnn_fp16_supported,
    }[dtype]()


@functools.lru_cache(maxsize=None)
def native_on(device_type: str, dtype: torch.dtype, key: str) -> bool:
    """Whether ``dtype`` is native on ``device_type``; warns once per ``key`` when not."""
    if device_type != "cpu":
        return True
    native = cpu_has_native(dtype)
    if not native:
        logging.warning(f"{key}: this CPU has no native {dtype}; running fp32")
    return native


def autocast(device: torch.device, dtype: Optional[torch.dtype], key: str) -> ContextManager:
    """``torch.autocast`` in ``dtype`` on ``device``; a no-op for None or a non-native dtype."""
    if dtype is None or not native_on(device.type, dtype, key):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def cast_frozen(module: torch.nn.Module, dtype: torch.dtype) -> int:
    """Store the floating parameters that do not train in ``dtype``; the trained stay as they are.

    ``Module.to`` casts all parameters of a module, and peft's LoRA layers hold
    frozen and trained ones side by side, hence the per-parameter cast.
    Returns the number of parameters cast.
    """
    n = 0
    for p in module.parameters():
        if not p.requires_grad and p.is_floating_point() and p.dtype != dtype:
            p.data = p.data.to(dtype)
            n += 1
    return n
