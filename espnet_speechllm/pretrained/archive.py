"""A packed model (stage 14's zip, or a tar, or its extracted directory) -> its files.

espnet2's ``unpack`` writes every member at ``outpath / name`` and every
``meta.yaml`` path as given, so an archive with ``../../x`` or ``/etc/x`` members
(or a symlink member pointing out) writes outside the target. Here every member
must be a plain file or directory inside the target and every ``meta.yaml`` path
a member, else the archive is refused before anything is written. Then, as
``unpack`` does, the config's values that name a member are rewritten to where it
was extracted (``find_path_and_change_it_recursive``, espnet2's own).

::

    with packed_model("exp/X/X_valid.acc.ave.zip") as files:
        s2t = Speech2TextLLM(**files)   # files: train_config, model_file
"""

import contextlib
import os
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Dict, Iterator, List, Optional, Tuple, Union

import yaml

from espnet2.main_funcs.pack_funcs import find_path_and_change_it_recursive

PathLike = Union[str, Path]
_TAR_SUFFIXES = (".tar", ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz")


class UnsafeArchiveError(ValueError):
    """An archive member or meta.yaml path would land outside the target directory."""


def _is_tar(path: Path) -> bool:
    return path.name.endswith(_TAR_SUFFIXES)


def _outside(name: str) -> Optional[str]:
    """Why ``name`` (an archive path) is not a relative path inside the target, or None."""
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if "\\" in name:
        return "a backslash (a Windows path)"
    if ".." in PurePosixPath(name).parts:
        return "'..' leaves the target"
    return None


def _members(archive: Path) -> List[Tuple[str, str]]:
    """``(name, kind)`` of each member; kind is ``file``, ``dir`` or what else it is."""
    if _is_tar(archive):
        with tarfile.open(archive) as tf:
            kinds = []
            for m in tf.getmembers():
                kind = "file" if m.isreg() else "dir" if m.isdir() else (
                    "symlink" if m.issym() else "hard link" if m.islnk() else "special file"
                )
                kinds.append((m.name, kind))
            return kinds
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            out = []
            for info in zf.infolist():
                mode = info.external_attr >> 16
                kind = "symlink" if stat.S_ISLNK(mode) else "dir" if info.is_dir() else "file"
                out.append((info.filename, kind))
            return out
    raise UnsafeArchiveError(f"{archive}: not a .zip or tar archive ({', '.join(_TAR_SUFFIXES)})")


def _read_member(archive: Path, name: str) -> bytes:
    if _is_tar(archive):
        with tarfile.open(archive) as tf:
            return tf.extractfile(name).read()
    with zipfile.ZipFile(archive) as zf:
        return zf.read(name)


def _meta_paths(meta: dict, where: str, exists) -> Dict[str, Dict[str, str]]:
    """``yaml_files`` and ``files`` of meta.yaml, each path checked to be inside."""
    out = {}
    for section in ("yaml_files", "files"):
        entries = meta.get(section) if isinstance(meta, dict) else None
        if not isinstance(entries, dict):
            raise UnsafeArchiveError(f"{where}: meta.yaml has no '{section}' mapping")
        for key, value in entries.items():
            why = _outside(value) if isinstance(value, str) else "not a path"
            if why is None and not exists(value):
                why = "not in the archive"
            if why:
                raise UnsafeArchiveError(f"{where}: meta.yaml {section}.{key}={value!r}: {why}")
        out[section] = dict(entries)
    return out


def check_archive(archive: PathLike) -> Dict[str, Dict[str, str]]:
    """Refuse an archive that would write outside its target; its meta.yaml paths.

    Raises:
        UnsafeArchiveError: a member that is absolute, holds ``..``, is a link or a
            special file; no ``meta.yaml`` (or one below the top); a meta.yaml path
            that is not a file member.
    """
    archive = Path(archive)
    members = _members(archive)
    for name, kind in members:
        why = _outside(name) or (None if kind in ("file", "dir") else f"a {kind}")
        if why:
            raise UnsafeArchiveError(f"{archive}: member {name!r}: {why}; refusing to unpack")
        if PurePosixPath(name).name == "meta.yaml" and name != "meta.yaml":
            raise UnsafeArchiveError(f"{archive}: member {name!r}: meta.yaml below the top")
    files = {name for name, kind in members if kind == "file"}
    if "meta.yaml" not in files:
        raise UnsafeArchiveError(f"{archive}: no meta.yaml (not a packed ESPnet model)")
    meta = yaml.safe_load(_read_member(archive, "meta.yaml"))
    return _meta_paths(meta, str(archive), files.__contains__)


def unpack_archive(archive: PathLike, outdir: PathLike) -> Dict[str, str]:
    """Extract a checked archive into ``outdir``; ``{train_config: ..., model_file: ...}``
    (absolute paths), the configs' member paths rewritten to ``outdir``.

    ``outdir/.unpacked`` (a copy of meta.yaml, which holds the packing time) marks a
    finished extraction: the same archive is not extracted twice.
    """
    archive, outdir = Path(archive), Path(outdir).absolute()
    meta = check_archive(archive)
    files = {k: str(outdir / v) for section in meta.values() for k, v in section.items()}
    done, stamp = outdir / ".unpacked", _read_member(archive, "meta.yaml")
    if done.is_file() and done.read_bytes() == stamp:  # this archive, extracted before
        return files
    names = [name for name, _ in _members(archive)]
    outdir.mkdir(parents=True, exist_ok=True)
    done.unlink(missing_ok=True)
    if _is_tar(archive):
        with tarfile.open(archive) as tf:
            # NOTE: the "data" filter (Python >= 3.10.12) also drops set-uid bits.
            kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tf.extractall(outdir, **kwargs)
    else:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(outdir)
    for value in meta["yaml_files"].values():
        _rewrite_paths(outdir / value, names, outdir)
    done.write_bytes(stamp)  # meta.yaml holds the packing time
    return files


def _rewrite_paths(config: Path, names: List[str], root: Path) -> None:
    d = yaml.safe_load(config.read_text(encoding="utf-8"))
    for name in names:
        d = find_path_and_change_it_recursive(d, name, str(root / name))
    config.write_text(yaml.safe_dump(d, allow_unicode=True), encoding="utf-8")


def default_unpack_dir(archive: PathLike) -> Path:
    """``exp/X/X_valid.acc.ave.zip -> exp/X/X_valid.acc.ave``"""
    archive = Path(archive)
    for suffix in (".zip",) + _TAR_SUFFIXES:
        if archive.name.endswith(suffix):
            return archive.with_name(archive.name[: -len(suffix)])
    return archive.with_name(archive.name + ".d")


@contextlib.contextmanager
def packed_model(path: PathLike, unpack_dir: Optional[PathLike] = None) -> Iterator[Dict[str, str]]:
    """``{train_config, model_file}`` of a packed model, valid inside the ``with``.

    Args:
        path: A .zip / tar archive (extracted, checked, into ``unpack_dir``, default
            ``default_unpack_dir(path)``), or a directory holding an extracted one
            (``meta.yaml`` on top, e.g. a Hugging Face snapshot of stage 15): its
            config's archive paths are resolved against it in a temporary copy.
    """
    path = Path(path)
    if not path.is_dir():
        yield unpack_archive(path, unpack_dir or default_unpack_dir(path))
        return
    meta_file = path / "meta.yaml"
    if not meta_file.is_file():
        raise UnsafeArchiveError(f"{path}: no meta.yaml (not a packed ESPnet model)")
    meta = _meta_paths(
        yaml.safe_load(meta_file.read_text(encoding="utf-8")),
        str(path),
        lambda v: (path / v).is_file(),
    )
    names = [
        Path(root, f).relative_to(path).as_posix()
        for root, dirs, files in os.walk(path)
        for f in dirs + files
    ]
    files = {k: str(path.absolute() / v) for section in meta.values() for k, v in section.items()}
    with tempfile.TemporaryDirectory(prefix="packed_model_") as tmp:
        for key, value in meta["yaml_files"].items():
            copy = Path(tmp) / key / Path(value).name
            copy.parent.mkdir(parents=True)
            copy.write_bytes((path / value).read_bytes())
            _rewrite_paths(copy, names, path.absolute())
            files[key] = str(copy)
        yield files
