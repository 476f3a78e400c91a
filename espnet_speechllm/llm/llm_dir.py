"""The recipe's LLM directory (``exp/llm``): replaced whole, never half-written.

Stage 6 (import) and stage 8 (export) both publish ``exp/llm``. Re-running
either must work, yet must never delete a directory that a user made or
write through a symlink into the pretrained model it points to. So a new
directory is filled beside the old one, and the old one is removed only if it
is a symlink (the link, not its target) or carries our marker file.
"""

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

MARKER = ".espnet_speechllm"


def already_converted(out_dir: Path, source: str) -> bool:
    """``out_dir`` was written by ``staged_dir`` from ``source`` (converting again is a no-op)."""
    marker = out_dir / MARKER
    return marker.is_file() and marker.read_text(encoding="utf-8").strip() == source


def check_replaceable(out_dir: Path) -> None:
    """Raise unless ``out_dir`` is absent, a symlink, or a directory we wrote."""
    if out_dir.is_symlink() or not out_dir.exists():
        return
    if not out_dir.is_dir() or not (out_dir / MARKER).is_file():
        raise FileExistsError(
            f"{out_dir} exists and was not written by espnet_speechllm (no {MARKER} "
            "inside): remove it yourself or choose another --out_dir"
        )


def remove_previous(out_dir: Path) -> None:
    """Remove a previous output: a symlink (never its target) or our directory."""
    check_replaceable(out_dir)
    if out_dir.is_symlink():
        out_dir.unlink()
    elif out_dir.exists():
        shutil.rmtree(out_dir)


@contextmanager
def staged_dir(out_dir: Path, source: str) -> Iterator[Path]:
    """Yield an empty scratch directory; on success it becomes ``out_dir``.

    Args:
        out_dir: Final location.
        source: Where the content came from, kept in the marker file.
    """
    check_replaceable(out_dir)  # fail before any expensive work
    tmp = out_dir.parent / f".{out_dir.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    (tmp / MARKER).write_text(source + "\n", encoding="utf-8")
    remove_previous(out_dir)
    tmp.rename(out_dir)
