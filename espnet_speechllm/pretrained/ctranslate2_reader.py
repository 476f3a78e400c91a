"""Reader of CTranslate2's ``model.bin`` (binary layout version 6).

Layout, little endian (``str`` = uint16 length incl. a trailing NUL, bytes, NUL)::

    uint32 version | str spec_name | uint32 spec_revision | uint32 n_vars
    n_vars x  [ str name | uint8 rank | uint32 dims[rank] | uint8 dtype
                | uint32 n_bytes | n_bytes of row-major data ]
    uint32 n_aliases
    n_aliases x [ str alias | str target_name ]

dtype ids: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16.
Quantized weights (int8/int16) come with a ``<name>_scale`` variable.
"""

import struct
from pathlib import Path
from typing import Dict, NamedTuple, Union

import numpy as np
import torch

SUPPORTED_VERSIONS = (5, 6)
DTYPES = {
    0: torch.float32,
    1: torch.int8,
    2: torch.int16,
    3: torch.int32,
    4: torch.float16,
    5: torch.bfloat16,
}


class CT2Model(NamedTuple):
    """The content of a ``model.bin``: spec name/revision and variables by name."""

    spec: str
    revision: int
    variables: Dict[str, torch.Tensor]


class _Cursor:
    def __init__(self, buf: bytes, path: str):
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            raise ValueError(
                f"{self.path}: truncated at byte {self.pos} (wanted {n} more bytes, "
                f"file has {len(self.buf)})"
            )
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        raw = self.take(self.unpack("H"))
        return raw[:-1].decode("utf-8")


def read_ct2(path: Union[str, Path]) -> CT2Model:
    """Read all variables (aliases resolved, shared) of a CTranslate2 ``model.bin``."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.bin"
    cur = _Cursor(path.read_bytes(), str(path))
    version = cur.unpack("I")
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(
            f"{path}: CTranslate2 binary version {version} is not supported "
            f"(supported: {SUPPORTED_VERSIONS})"
        )
    spec = cur.string()
    revision = cur.unpack("I")
    variables: Dict[str, torch.Tensor] = {}
    for _ in range(cur.unpack("I")):
        name = cur.string()
        dims = [cur.unpack("I") for _ in range(cur.unpack("B"))]
        dtype_id = cur.unpack("B")
        if dtype_id not in DTYPES:
            raise ValueError(f"{path}: variable {name}: unknown dtype id {dtype_id}")
        data = cur.take(cur.unpack("I"))
        # bfloat16 has no numpy dtype: read the raw bytes as int16 and reinterpret.
        tensor = torch.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())
        variables[name] = tensor.view(DTYPES[dtype_id]).reshape(dims)
    for _ in range(cur.unpack("I")):
        alias, target = cur.string(), cur.string()
        if target not in variables:
            raise ValueError(f"{path}: alias {alias} -> unknown variable {target}")
        variables[alias] = variables[target]
    if cur.pos != len(cur.buf):
        raise ValueError(f"{path}: {len(cur.buf) - cur.pos} trailing bytes")
    return CT2Model(spec, revision, variables)
