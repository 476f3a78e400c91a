"""Kaldi ``segments``: utterances cut out of longer recordings.

``segments`` lines are ``<utt> <recording> <start> <end>`` (seconds; an end of ``-1``
runs to the end of the recording). Where a data dir has one, ``wav.scp`` (and
``reco2file_and_channel``, ``reco2dur``) are keyed by recording and every other
utterance file by utterance, as in Kaldi and ESPnet's asr.sh.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

import numpy as np

from espnet_speechllm.utils.kaldi_io import KaldiFormatError, PathLike, iter_lines

SEGMENTS = "segments"
# Files keyed by recording id in a data dir that has a segments file.
RECORDING_FILES = ("wav.scp", "reco2file_and_channel", "reco2dur")


@dataclass(frozen=True)
class Segment:
    recording: str
    start: float
    end: float  # -1: to the end of the recording


def has_segments(data_dir: PathLike) -> bool:
    return (Path(data_dir) / SEGMENTS).is_file()


def is_recording_file(data_dir: PathLike, name: str) -> bool:
    """Whether ``name`` of ``data_dir`` is keyed by recording (the dir has segments)."""
    return name in RECORDING_FILES and has_segments(data_dir)


def read_segments(path: PathLike) -> Dict[str, Segment]:
    """utt -> Segment, in file order.

    Raises:
        KaldiFormatError: ``file:line`` and utt of a malformed line or a duplicate utt.
    """
    out: Dict[str, Segment] = {}
    for n, utt, value in iter_lines(path):
        where = f"{path}:{n}: utt '{utt}'"
        fields = value.split()
        if len(fields) != 3:
            raise KaldiFormatError(f"{where}: expected '<utt> <recording> <start> <end>'")
        try:
            start, end = float(fields[1]), float(fields[2])
        except ValueError:
            raise KaldiFormatError(f"{where}: start/end are not numbers: {value}") from None
        if start < 0 or (end != -1 and end <= start):
            raise KaldiFormatError(f"{where}: bad times start={start} end={end}")
        if utt in out:
            raise KaldiFormatError(f"{where}: duplicated")
        out[utt] = Segment(fields[0], start, end)
    return out


def segment_problems(
    path: PathLike, segments: Dict[str, Segment], recordings: Iterable[str]
) -> List[str]:
    """Segments whose recording has no wav.scp entry."""
    recs = set(recordings)
    return [
        f"{path}: utt '{utt}': recording '{seg.recording}' is not in wav.scp"
        for utt, seg in segments.items()
        if seg.recording not in recs
    ]


def by_recording(segments: Dict[str, Segment]) -> Dict[str, List[Tuple[str, Segment]]]:
    """recording -> its (utt, segment) pairs, in file order."""
    groups: Dict[str, List[Tuple[str, Segment]]] = {}
    for utt, seg in segments.items():
        groups.setdefault(seg.recording, []).append((utt, seg))
    return groups


def cut(x: np.ndarray, fs: int, seg: Segment) -> np.ndarray:
    """Samples of ``seg`` in recording ``x`` (T, ...) read at ``fs``; the end is
    clipped to the recording (as Kaldi's extract-segments does).

    Raises:
        ValueError: the segment starts at or after the end of the recording.
    """
    start = int(round(seg.start * fs))
    end = len(x) if seg.end == -1 else min(int(round(seg.end * fs)), len(x))
    if start >= len(x):
        raise ValueError(
            f"segment {seg.start}-{seg.end} s starts after the end of recording "
            f"'{seg.recording}' ({len(x) / fs:.3f} s)"
        )
    return x[start:end]
