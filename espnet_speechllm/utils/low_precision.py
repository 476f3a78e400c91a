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


# CPU flags (/proc/cpuinfo) of native kernels. oneDNN also reports bf16 "supported" on
# AVX-512 cores without them, where it emulates it: measured 6.6 GFLOP/s bf16 vs 32 fp32
# (1024^2 GEMM, 1 thread) on an avx512f Xeon without avx512_bf16, and a batch-1 conformer
# 1.9x slower under bf16 autocast than in fp32.
NATIVE_FLAGS = {
    torch.bfloat16: ("avx512_bf16", "amx_bf16", "bf16"),  # bf16: aarch64's Features
    torch.float16: ("avx512_fp16", "amx_fp16", "asimdhp"),
}


def cpu_flags() -> Optional[frozenset]:
    """The CPU's feature flags (x86 ``flags`` / aarch64 ``Features``); None where unknown."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def _onednn_supports(dtype: torch.dtype) -> bool:
    return {
        torch.bfloat16: torch.ops.mkldnn._is_mkldnn_bf16_supported,
        torch.float16: torch.ops.mkldnn._is_mkldnn_fp16_supported,
    }[dtype]()


def cpu_has_native(dtype: torch.dtype) -> bool:
    """Whether this CPU runs ``dtype`` natively: oneDNN supports it and the CPU has one of
    its ``NATIVE_FLAGS`` (avx512_bf16 / amx; oneDNN's answer alone where flags are unknown)."""
    if not _onednn_supports(dtype):
        return False
    flags = cpu_flags()
    return flags is None or any(f in flags for f in NATIVE_FLAGS[dtype])


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
