"""Checkpoint loading that never runs code from the file: ``torch.load(weights_only=True)``.

A ``.pth`` is a pickle, and unpickling an arbitrary object can run any code
(``__reduce__``). ESPnet2 loads with ``weights_only=False`` in
``AbsTask.build_model_from_file`` (decoding, alignment, perplexity),
``Trainer.resume`` (``checkpoint.pth``), ``average_nbest_models`` and
``load_pretrained_model`` (``--init_param``). Our tasks load their model files with
``load_checkpoint`` and run ESPnet's training inside ``weights_only_loads``, where
every ``torch.load`` is weights-only (tensors, containers, numbers, and the few
numpy types of ESPnet's reporter state in ``checkpoint.pth``).
"""

import contextlib
import datetime
import functools
import pickle
import re
from pathlib import Path
from typing import Any, Iterator, Union
from unittest import mock

import numpy as np
import torch

_torch_load = torch.load

# Besides tensors: ESPnet's Reporter keeps numpy scalars (np.float64 ...) and
# timedeltas in checkpoint.pth; rebuilding them runs no code of the file.
_np_core = getattr(np, "_core", None) or np.core
SAFE_GLOBALS = [datetime.timedelta, np.dtype, _np_core.multiarray.scalar]
SAFE_GLOBALS += [type(np.dtype(t)) for t in ("float16", "float32", "float64", "int32", "int64", "bool")]


class UnsafeCheckpointError(ValueError):
    """A checkpoint holds objects that only a full (code-running) unpickling rebuilds."""


def load_checkpoint(path: Union[str, Path], map_location: Any = "cpu", **kwargs) -> Any:
    """``torch.load(path, weights_only=True)`` with a clear refusal.

    Raises:
        UnsafeCheckpointError: the file needs more than tensors, containers and
            numbers to unpickle (a crafted pickle, or a whole pickled object).
    """
    kwargs.pop("weights_only", None)
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return _torch_load(path, map_location=map_location, weights_only=True, **kwargs)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        why = f"it calls {found.group(1)}" if found else str(e).strip().splitlines()[0]
        raise UnsafeCheckpointError(
            f"{path}: refused to load: it holds more than tensors and numbers, and "
            f"unpickling it could run code ({why})"
        ) from e


@functools.wraps(_torch_load)
def _weights_only_load(f, map_location=None, **kwargs):
    kwargs.pop("pickle_module", None)  # weights_only has its own unpickler
    return load_checkpoint(f, map_location, **kwargs)


@contextlib.contextmanager
def weights_only_loads() -> Iterator[None]:
    """Inside: every ``torch.load`` is ``load_checkpoint`` (whatever ``weights_only`` the
    caller gives), for ESPnet's trainer paths that our tasks inherit."""
    with mock.patch.object(torch, "load", _weights_only_load):
        yield


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's keys or shapes do not fit the model built from its config."""


def load_into(model: torch.nn.Module, path: Union[str, Path], map_location: Any = "cpu") -> None:
    """Load the state dict at ``path`` into ``model`` strictly, with a readable refusal.

    Keys that the modules' load hooks accept as absent (the frozen pretrained weights
    that ``asr/frozen_weights.py`` leaves out of checkpoints) are not missing.

    Raises:
        UnsafeCheckpointError: see ``load_checkpoint``.
        CheckpointMismatchError: missing / unexpected keys or other shapes, named.
    """
    state = load_checkpoint(path, map_location)
    hint = "is it a checkpoint of this model?"
    if isinstance(state, dict) and {"model", "optimizers"} <= set(state):
        hint = "it is a training checkpoint (checkpoint.pth): give an epoch or averaged .pth"
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointMismatchError(f"{path}: not a state dict of tensors; {hint}")
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shapes
        sizes = [s.strip() for s in str(e).splitlines() if s.strip().startswith("size mismatch")]
        raise CheckpointMismatchError(
            f"{path}: {len(sizes)} tensors of another shape, e.g. {sizes[0] if sizes else e}; {hint}"
        ) from e
    missing, unexpected = result.missing_keys, result.unexpected_keys
    if missing or unexpected:
        raise CheckpointMismatchError(
            f"{path} does not fit the model ({type(model).__name__}): "
            f"{_keys('missing', missing)}; {_keys('unexpected', unexpected)}; {hint}"
        )


def _keys(what: str, keys) -> str:
    """``3 missing keys (encoder: 2, projector: 1), e.g. encoder.a, ...``"""
    if not keys:
        return f"no {what} keys"
    parts: dict = {}
    for k in keys:
        parts[k.split(".")[0]] = parts.get(k.split(".")[0], 0) + 1
    by_part = ", ".join(f"{p}: {n}" for p, n in parts.items())
    more = ", ..." if len(keys) > 3 else ""
    return f"{len(keys)} {what} keys ({by_part}), e.g. {', '.join(keys[:3])}{more}"
