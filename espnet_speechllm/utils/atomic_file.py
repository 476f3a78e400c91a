"""Write a file so that a crash leaves the old file or the new one, never half of one."""

import contextlib
import os
from pathlib import Path
from typing import Iterator, Union


@contextlib.contextmanager
def atomic_path(path: Union[str, Path]) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; on success it replaces ``path``.

    Example:
        >>> with atomic_path("exp/init.pth") as tmp:  # doctest: +SKIP
        ...     torch.save(state, tmp)

    The temporary file is synced to disk before the rename; on an exception it is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
