"""Keep ``import espnet2`` offline.

ESPnet's phoneme tokenizer imports ``g2p_en``, and importing ``g2p_en`` calls
``nltk.download()`` for a POS tagger and cmudict when they are not installed: a network
request at import time, in every training and decoding job, for a tokenizer no recipe of
ours uses. nltk has no offline switch, so we wrap the loader of ``g2p_en.g2p``: while that
one module executes, ``nltk.download`` is a no-op that logs what it skipped. Everything
else (including a user's own ``nltk.download`` calls) is untouched; g2p itself would then
fail with nltk's LookupError only if someone actually uses it.

ESPnet's attention module also ``print()``s "Failed to import Flash Attention, ..." to
stdout at import where flash_attn is missing, so ``--print_config > conf.yaml`` wrote a
broken YAML file. While that module executes, stdout goes to stderr.
"""

import contextlib
import importlib.abc
import importlib.machinery
import logging
import sys
from types import ModuleType
from typing import Optional, Sequence

_GUARDED = "g2p_en.g2p"
# Modules that print at import (ESPnet 202511, and its espnet2.legacy home from 202604).
_PRINTING = (
    "espnet.nets.pytorch_backend.transformer.attention",
    "espnet2.legacy.nets.pytorch_backend.transformer.attention",
)
# A module logger: logging.debug() on the root logger would call basicConfig() and
# turn ESPnet's later logging.basicConfig(level=INFO) into a no-op.
logger = logging.getLogger(__name__)


def _skip_download(info_or_id=None, *args, **kwargs) -> bool:
    logger.debug(f"skipped nltk.download({info_or_id!r}) at g2p_en import")
    return False


class _OfflineLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec) -> Optional[ModuleType]:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        import nltk

        download = nltk.download
        nltk.download = _skip_download
        try:
            self.loader.exec_module(module)
        finally:
            nltk.download = download


class _StdoutToStderrLoader(_OfflineLoader):
    def exec_module(self, module: ModuleType) -> None:
        with contextlib.redirect_stdout(sys.stderr):
            self.loader.exec_module(module)


class _OfflineG2pFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Optional[Sequence[str]], target=None):
        if name == _GUARDED:
            wrapper = _OfflineLoader
        elif name in _PRINTING:
            wrapper = _StdoutToStderrLoader
        else:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = wrapper(spec.loader)
        return spec


def install() -> None:
    """Put the guard first on ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(f, _OfflineG2pFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _OfflineG2pFinder())
