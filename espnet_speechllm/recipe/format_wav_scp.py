"""Stage 3: decode every wav.scp entry into a 16-bit mono PCM wav at one sample rate.

::

    python -m espnet_speechllm.recipe.format_wav_scp --fs 16000 --nj 4 SRC DST

Writes ``DST/data/<utt>.wav``, ``DST/wav.scp``, ``DST/utt2num_samples``,
``DST/feats_type`` (``raw``), the other files of SRC restricted to the surviving
utterances, and ``DST/bad_utts.txt`` (``utt reason``) for entries that are missing,
unreadable or empty: those are skipped with a warning; only an empty result is an
error. A finished DST (``DST/.done`` newer than ``SRC/wav.scp``, same --fs) is skipped.
"""

import argparse
import logging
import sys
from dataclasses import dataclass
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple
from urllib.parse import quote

import numpy as np
import soundfile
from espnet_speechllm.recipe.kaldi_dir import subset
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
    if x.shape[0] == 0:
        return Converted(utt, error="zero-length audio")
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


def _convert_task(task: Tuple[str, str, int, str]) -> Converted:
    return convert(*task)


def _is_done(src: Path, dst: Path, fs: int) -> bool:
    done = dst / ".done"
    return (
        done.is_file()
        and done.stat().st_mtime > (src / "wav.scp").stat().st_mtime
        and done.read_text() == f"fs={fs}\n"
    )


def format_wav_scp(src: Path, dst: Path, fs: int, nj: int = 1) -> List[Converted]:
    """Convert SRC into DST (see the module docstring); returns the bad entries."""
    if _is_done(src, dst, fs):
        logging.info(f"format_wav_scp: {dst} is up to date; remove {dst}/.done to redo")
        return []
    wav_scp = read_map(src / "wav.scp")
    (dst / "data").mkdir(parents=True, exist_ok=True)
    (dst / ".done").unlink(missing_ok=True)
    out_paths = {
        utt: str(dst / "data" / f"{quote(utt, safe='')}.wav") for utt in wav_scp
    }
    tasks = [(utt, value, fs, out_paths[utt]) for utt, value in wav_scp.items()]
    if nj > 1:
        # Threads, not fork(): forking a process that already holds torch's
        # OpenMP threads can deadlock; decoding/resampling release the GIL.
        with ThreadPoolExecutor(min(nj, len(tasks))) as pool:
            results = list(pool.map(_convert_task, tasks))
    else:
        results = [_convert_task(task) for task in tasks]

    good: Dict[str, Converted] = {}
    bad = []
    for r in results:
        if r.error:
            logging.warning(
                f"format_wav_scp: {r.utt}: {wav_scp[r.utt]}: {r.error}; skipped"
            )
            bad.append(r)
        else:
            if r.warning:
                logging.warning(f"format_wav_scp: {r.utt}: {r.warning}")
            good[r.utt] = r
    if good:
        subset(src, dst, good)  # the other files, restricted to what survived
    write_map(
        dst / "bad_utts.txt", {r.utt: f"{r.error}: {wav_scp[r.utt]}" for r in bad}
    )
    if not good:
        raise ValueError(
            f"no utterance of {src / 'wav.scp'} could be read; "
            f"reasons in {dst / 'bad_utts.txt'}"
        )
    write_map(dst / "wav.scp", {utt: out_paths[utt] for utt in good})
    write_map(
        dst / "utt2num_samples", {utt: str(r.num_samples) for utt, r in good.items()}
    )
    (dst / "feats_type").write_text("raw\n")
    (dst / ".done").write_text(f"fs={fs}\n")
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
