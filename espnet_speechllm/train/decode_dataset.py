"""Decoding input: wav.scp (+ text data files) -> batches, each bad utterance named.

ESPnet's ``IterableESPnetDataset`` reads a ``sound`` entry with ``soundfile.read(x)[0]``:
the rate is dropped (8 / 44.1 kHz audio decoded as if at the model's rate), stereo
is interleaved by the later flattening, and a missing or corrupt file kills a worker
with a bare libsndfile message. Here each entry is read with ``utils/audio_input.py``
(mono, resampled to the model's rate, finite), and one that cannot be becomes a
``(key, reason)`` of its batch, the reason naming ``file:line``, the key and the value.
``text`` entries (``instruction`` / ``history``) are read with ``utils/kaldi_io.py``.
"""

import logging
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch

from espnet_speechllm.utils.audio_input import AudioError, read_audio, to_model_input
from espnet_speechllm.utils.kaldi_io import KaldiFormatError, iter_lines, read_map_for

TYPES = ("sound", "text")


class DecodeBatch(NamedTuple):
    """``keys``: the batch in file order; ``batch``: the collated good ones
    (``good_keys``), or None; ``bad``: ``{key: reason}`` of the others."""

    keys: List[str]
    good_keys: List[str]
    batch: Optional[Dict[str, torch.Tensor]]
    bad: Dict[str, str]


def _scp(path: str) -> Dict[str, Tuple[str, str]]:
    """``{key: ("path:line", value)}`` of a wav.scp."""
    out: Dict[str, Tuple[str, str]] = {}
    for n, key, value in iter_lines(path):
        if key in out:
            raise KaldiFormatError(f"{path}:{n}: id '{key}' duplicated (first at {out[key][0]})")
        out[key] = (f"{path}:{n}", value)
    return out


def _missing_file(key: str, value: str) -> Optional[str]:
    """Why ``value`` names no file (an id holding a space is the likeliest cause), or
    None if it is a file or a ``cmd |``."""
    if value.endswith("|") or Path(value).is_file():
        return None
    words = value.split()
    if len(words) > 1 and Path(words[-1]).is_file():
        return (
            f"no such file; is the id '{key} {' '.join(words[:-1])}'? "
            "(ids cannot hold whitespace: the id ends at the first space)"
        )
    return "no such file"


def _cast(value):
    """float32 / int64, as ESPnet's datasets hand arrays to the collate."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float32 if value.dtype.kind == "f" else np.int64)
    return value


class DecodeDataset(torch.utils.data.Dataset):
    """``(key, data or None, reason)`` per utterance, in key order.

    Args:
        data_path_and_name_and_type: ``(path, name, type)``, type ``sound`` (a wav.scp)
            or ``text`` (a Kaldi ``id value`` file).
        fs: The model's sample rate.
        preprocess: ESPnet's ``preprocess_fn(key, data)`` (None: none).
        key_file: Ids to decode (its first column); default: the first file's.
        allow_resample: Refuse audio at another rate instead of resampling it.
    """

    def __init__(
        self,
        data_path_and_name_and_type: Sequence[Tuple[str, str, str]],
        fs: int,
        preprocess: Optional[Callable] = None,
        key_file: Optional[str] = None,
        allow_resample: bool = True,
    ):
        for path, name, kind in data_path_and_name_and_type:
            if kind not in TYPES:
                raise ValueError(
                    f"--data_path_and_name_and_type {path},{name},{kind}: decoding reads "
                    f"the types {' and '.join(TYPES)}"
                )
        first = key_file or data_path_and_name_and_type[0][0]
        self.keys = [key for _, key, _ in iter_lines(first)]
        self.sound = {n: _scp(p) for p, n, t in data_path_and_name_and_type if t == "sound"}
        for path, name, kind in data_path_and_name_and_type:
            missing = [k for k in self.keys if kind == "sound" and k not in self.sound[name]]
            if missing:  # (text files: read_map_for below)
                raise KaldiFormatError(
                    f"{path}: no entry for {len(missing)} utt(s), e.g. '{missing[0]}'"
                )
        self.text = {
            n: read_map_for(p, self.keys) for p, n, t in data_path_and_name_and_type if t == "text"
        }
        self.fs, self.preprocess, self.allow_resample = fs, preprocess, allow_resample

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> Tuple[str, Optional[Dict[str, np.ndarray]], str]:
        key = self.keys[i]
        data: Dict = {name: values[key] for name, values in self.text.items()}
        for name, entries in self.sound.items():
            where, value = entries[key]
            reason = _missing_file(key, value)
            if reason is None:
                try:
                    x, fs_in = read_audio(value)
                    data[name] = to_model_input(x, fs_in, self.fs, key, self.allow_resample)
                except AudioError as e:  # to_model_input's messages start with the key
                    reason = str(e).removeprefix(f"{key}: ")
            if reason is not None:
                return key, None, f"{key}: {where}: {value}: {reason}"
        try:
            data = self.preprocess(key, data) if self.preprocess is not None else data
        except ValueError as e:  # e.g. an empty instruction field
            return key, None, f"{key}: {e}"
        return key, {name: _cast(v) for name, v in data.items()}, ""


class DecodeCollate:
    """Collate of ``DecodeDataset`` items into a ``DecodeBatch`` (ESPnet's collate on
    the good ones)."""

    def __init__(self, collate: Callable):
        self.collate = collate

    def __call__(self, items: List[Tuple[str, Optional[Dict], str]]) -> DecodeBatch:
        good = [(key, data) for key, data, _ in items if data is not None]
        bad = {key: reason for key, data, reason in items if data is None}
        for reason in bad.values():
            logging.warning(reason)
        batch = self.collate(good)[1] if good else None
        return DecodeBatch([k for k, _, _ in items], [k for k, _ in good], batch, bad)
