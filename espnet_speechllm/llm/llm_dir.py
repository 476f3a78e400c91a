"""The recipe's LLM directories (``exp/llm_<name>``): written whole, never re-pointed.

Stage 6 (import) and stage 8 (export) publish one directory per LLM. Experiments'
configs name that directory (``decoder_conf.model_name_or_path``), so once it holds
an LLM it is never made to hold another one: re-running with the same source works
(a no-op, or a refresh of the same export), a different source is refused. It is
never half-written either: a new directory is filled beside the old one, and the old
one is removed only if it is a symlink (the link, not its target) or carries our
marker file, which names its source.
"""

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

MARKER = ".espnet_speechllm"


def already_converted(out_dir: Path, source: str) -> bool:
    """``out_dir`` was written by ``staged_dir`` from ``source`` (converting again is a no-op)."""
    return current_source(out_dir) == source


def current_source(out_dir: Path) -> Optional[str]:
    """What ``out_dir`` holds: a symlink's target, our marker's source, else None."""
    if out_dir.is_symlink():
        return str(out_dir.resolve())
    marker = out_dir / MARKER
    if marker.is_file():
        return marker.read_text(encoding="utf-8").strip()
    return None


def check_replaceable(out_dir: Path, source: str) -> None:
    """Raise unless ``out_dir`` is absent, or ours and made from ``source``.

    Args:
        out_dir: The LLM directory.
        source: What is to go there (a resolved path, or an export's description).
    """
    if not out_dir.is_symlink() and not out_dir.exists():
        return
    old = current_source(out_dir)
    if old is None:
        raise FileExistsError(
            f"{out_dir} exists and was not written by espnet_speechllm (no {MARKER} "
            "inside): remove it yourself or choose another --out_dir"
        )
    if old != source:
        raise FileExistsError(
            f"{out_dir} already holds the LLM {old}, not {source}: an LLM directory is "
            "never re-pointed, since the experiments trained on it name it in their "
            f"config.yaml. Give this LLM its own directory (speechllm.sh --llm_dir, "
            f"--out_dir here), or delete {out_dir} if no experiment uses it"
        )


def remove_previous(out_dir: Path, source: str) -> None:
    """Remove a previous output of the same source: a symlink (never its target) or
    our directory."""
    check_replaceable(out_dir, source)
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
    check_replaceable(out_dir, source)  # fail before any expensive work
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
    remove_previous(out_dir, source)
    tmp.rename(out_dir)
