"""Stage 3: decode every wav.scp entry into a 16-bit mono PCM wav at one sample rate.

::

    python -m espnet_speechllm.recipe.format_wav_scp --fs 16000 --nj 4 SRC DST

Writes ``DST/data/<utt>.wav``, ``DST/wav.scp``, ``DST/utt2num_samples``,
``DST/feats_type`` (``raw``), the other files of SRC restricted to the surviving
utterances, and ``DST/bad_utts.txt`` (``utt reason``) for entries that are missing,
unreadable, empty or hold non-finite samples (NaN/inf): those are skipped with a
warning; only an empty result is an error.

``DST/.done`` is the manifest of what DST was made from: --fs, a checksum of every
file of SRC and the size and date of every audio file. A rerun with the same
manifest is skipped; one where only files other than wav.scp and segments changed
(an edited text) rewrites those files without decoding audio again; any other change
redoes DST.

A SRC with ``segments`` (``utt recording start end``; wav.scp keyed by recording, as
asr.sh takes it) is cut: each recording is read once and each of its segments written
as an utterance; DST has no segments file (its wav.scp is keyed by utterance).
"""

import argparse
import hashlib
import json
import logging
import sys
from dataclasses import dataclass
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple
from urllib.parse import quote

import numpy as np
import soundfile
from espnet_speechllm.recipe.kaldi_dir import data_files, subset
from espnet_speechllm.recipe.segments import (
    RECORDING_FILES,
    SEGMENTS,
    Segment,
    by_recording,
    cut,
    has_segments,
    read_segments,
)
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.audio_input import AudioError, read_audio, resample
from espnet_speechllm.utils.kaldi_io import read_map, write_map


@dataclass
class Converted:
    utt: str
    num_samples: int = 0
    error: str = ""
    warning: str = ""


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float samples to int16; exact for audio that was read from 16-bit PCM."""
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def convert(utt: str, value: str, fs: int, out_path: str) -> Converted:
    """Read one entry, downmix, resample and write it as 16-bit PCM."""
    try:
        x, fs_in = read_audio(value)
    except AudioError as e:
        return Converted(utt, error=str(e))
    return write_pcm(utt, x, fs_in, fs, out_path)


def convert_recording(
    value: str, pieces: List[Tuple[str, Segment, str]], fs: int
) -> List[Converted]:
    """Read one recording and write each (utt, segment, out_path) cut out of it."""
    try:
        x, fs_in = read_audio(value)
    except AudioError as e:
        return [Converted(utt, error=f"recording: {e}") for utt, _, _ in pieces]
    out = []
    for utt, seg, out_path in pieces:
        try:
            out.append(write_pcm(utt, cut(x, fs_in, seg), fs_in, fs, out_path))
        except ValueError as e:
            out.append(Converted(utt, error=str(e)))
    return out


def write_pcm(utt: str, x: np.ndarray, fs_in: int, fs: int, out_path: str) -> Converted:
    """Downmix samples (T, C) read at fs_in, resample to fs, write 16-bit PCM."""
    if x.shape[0] == 0:
        return Converted(utt, error="zero-length audio")
    finite = np.isfinite(x).all(axis=1)
    if not finite.all():  # a float wav: NaN would reach the feature stats of stage 10
        first = int(np.argmin(finite))
        return Converted(
            utt,
            error=f"{int((~finite).sum())} non-finite sample(s) (NaN/inf), "
            f"the first at sample {first}",
        )
    warning = ""
    if x.shape[1] > 1:
        # NOTE: ESPnet keeps every channel here; its DefaultFrontend then picks a
        # random channel in training and channel 0 at inference, and its
        # CommonPreprocessor(force_single_channel=True) averages them. The speech
        # encoders we feed take mono, so we average once, here.
        warning = f"{x.shape[1]} channels downmixed to mono"
    x = x.mean(axis=1)  # (T, C) -> (T,)
    if fs_in != fs:
        x = resample(x, fs_in, fs)
    soundfile.write(out_path, to_pcm16(x), fs, subtype="PCM_16")
    return Converted(utt, num_samples=len(x), warning=warning)


def _convert_task(task: tuple) -> List[Converted]:
    if isinstance(task[1], list):  # a recording and its segments
        return convert_recording(task[0], task[1], task[2])
    return [convert(*task)]


def manifest(src: Path, fs: int, wav_scp: Dict[str, str]) -> Dict:
    """What DST is made from: fs, sha256 of each file of SRC, size/date of each audio."""
    audio = hashlib.sha256()
    for utt, value in wav_scp.items():
        if not value.endswith("|") and Path(value).is_file():
            st = Path(value).stat()
            audio.update(f"{utt} {st.st_size} {st.st_mtime_ns}\n".encode())
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data_files(src)}
    return {"fs": fs, "audio": audio.hexdigest(), "files": files}


def _read_manifest(dst: Path) -> Dict:
    try:
        done = json.loads((dst / ".done").read_text())
    except (OSError, ValueError):  # none, or an older ".done" without a manifest
        return {}
    return done if isinstance(done, dict) else {}


def _resubset(src: Path, dst: Path) -> None:
    """Rewrite DST's copies of SRC's files (text, utt2spk, ...); the audio stays."""
    ours = {name: read_map(dst / name) for name in ("wav.scp", "utt2num_samples")}
    subset(src, dst, ours["wav.scp"])
    for name, mapping in ours.items():
        write_map(dst / name, mapping)


def _tasks(src: Path, wav_scp: Dict[str, str], out_paths: Dict[str, str], fs: int):
    """Conversion tasks, the description of each utterance's source, and the bad ids
    found before reading audio (a segment of a recording without a wav.scp entry)."""
    if not has_segments(src):
        tasks = [(utt, value, fs, out_paths[utt]) for utt, value in wav_scp.items()]
        return tasks, dict(wav_scp), []
    segments = read_segments(src / SEGMENTS)
    sources = {
        utt: f"{wav_scp.get(seg.recording, seg.recording)} [{seg.start}, {seg.end}] s"
        for utt, seg in segments.items()
    }
    tasks, bad = [], []
    for rec, pairs in by_recording(segments).items():
        if rec not in wav_scp:
            bad += [Converted(u, error=f"recording '{rec}' not in wav.scp") for u, _ in pairs]
            continue
        tasks.append((wav_scp[rec], [(u, seg, out_paths[u]) for u, seg in pairs], fs))
    return tasks, sources, bad


def format_wav_scp(src: Path, dst: Path, fs: int, nj: int = 1) -> List[Converted]:
    """Convert SRC into DST (see the module docstring); returns the bad entries."""
    wav_scp = read_map(src / "wav.scp")
    inputs, done = manifest(src, fs, wav_scp), _read_manifest(dst)
    if done == inputs:
        logging.info(f"format_wav_scp: {dst} is up to date; remove {dst}/.done to redo")
        return []
    old_files = done.get("files", {})
    changed = sorted(
        name
        for name in set(inputs["files"]) | set(old_files)
        if inputs["files"].get(name) != old_files.get(name)
    )
    same_audio = done.get("fs") == fs and done.get("audio") == inputs["audio"]
    text_only = not {"wav.scp", SEGMENTS} & set(changed) and not has_segments(src)
    if same_audio and text_only and (dst / "wav.scp").is_file():
        logging.info(f"format_wav_scp: {src}: {' '.join(changed)} changed; updating {dst}")
        _resubset(src, dst)
        (dst / ".done").write_text(json.dumps(inputs, indent=1) + "\n")
        return []
    if done:
        what = " ".join(changed) or "--fs or audio files"
        logging.info(f"format_wav_scp: {src}: {what} changed; redoing {dst}")
    utts = read_map(src / SEGMENTS) if has_segments(src) else wav_scp
    (dst / "data").mkdir(parents=True, exist_ok=True)
    (dst / ".done").unlink(missing_ok=True)
    out_paths = {utt: str(dst / "data" / f"{quote(utt, safe='')}.wav") for utt in utts}
    tasks, sources, results = _tasks(src, wav_scp, out_paths, fs)
    if nj > 1 and tasks:
        # Threads, not fork(): forking a process that already holds torch's
        # OpenMP threads can deadlock; decoding/resampling release the GIL.
        with ThreadPoolExecutor(min(nj, len(tasks))) as pool:
            results += [r for rs in pool.map(_convert_task, tasks) for r in rs]
    else:
        results += [r for task in tasks for r in _convert_task(task)]

    good: Dict[str, Converted] = {}
    bad = []
    for r in sorted(results, key=lambda r: r.utt):
        if r.error:
            logging.warning(
                f"format_wav_scp: {r.utt}: {sources[r.utt]}: {r.error}; skipped"
            )
            bad.append(r)
        else:
            if r.warning:
                logging.warning(f"format_wav_scp: {r.utt}: {r.warning}")
            good[r.utt] = r
    if good:
        subset(src, dst, good)  # the other files, restricted to what survived
        for name in (SEGMENTS,) + RECORDING_FILES[1:]:  # dst is keyed by utterance
            (dst / name).unlink(missing_ok=True)
    write_map(
        dst / "bad_utts.txt", {r.utt: f"{r.error}: {sources[r.utt]}" for r in bad}
    )
    if not good:
        raise ValueError(
            f"no utterance of {src / (SEGMENTS if has_segments(src) else 'wav.scp')} "
            "could be read; "
            f"reasons in {dst / 'bad_utts.txt'}"
        )
    write_map(dst / "wav.scp", {utt: out_paths[utt] for utt in good})
    write_map(
        dst / "utt2num_samples", {utt: str(r.num_samples) for utt, r in good.items()}
    )
    (dst / "feats_type").write_text("raw\n")
    (dst / ".done").write_text(json.dumps(inputs, indent=1) + "\n")
    return bad


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fs", type=int, default=16000, help="output sample rate (Hz)")
    parser.add_argument("--nj", type=int, default=1, help="parallel processes")
    parser.add_argument("src", type=Path, help="source data dir")
    parser.add_argument("dst", type=Path, help="output data dir")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    try:
        bad = format_wav_scp(args.src, args.dst, args.fs, args.nj)
    except ValueError as e:  # DataDirError included
        sys.exit(f"format_wav_scp: {e}")
    n = len(read_map(args.dst / "wav.scp"))
    print(f"format_wav_scp: {args.dst}: {n} utterances, {len(bad)} skipped")


if __name__ == "__main__":
    main()
