"""Stage 4: drop utterances that are too short, too long, or have no (or too much) text.

::

    python -m espnet_speechllm.recipe.filter_data --fs 16000 --min_wav_duration 0.1 \\
        --max_wav_duration 20 [--max_text_chars N] SRC DST

Durations come from ``SRC/utt2num_samples`` (written by format_wav_scp). DST gets the
kept utterances and ``DST/filtered.txt`` (``utt reason``); a one-line summary is
printed.
"""

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from espnet_speechllm.recipe.kaldi_dir import DataDirError, subset
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_map, write_map


def filter_reasons(
    num_samples: Dict[str, str],
    text: Dict[str, str],
    fs: int,
    min_sec: float,
    max_sec: float,
    max_text_chars: Optional[int] = None,
) -> Dict[str, str]:
    """Reason to drop each rejected utterance (first failing check wins)."""
    reasons = {}
    for utt, n in num_samples.items():
        sec = int(n) / fs
        chars = len(text.get(utt, ""))
        if sec < min_sec:
            reasons[utt] = f"too_short {sec:.3f}s < {min_sec}s"
        elif sec > max_sec:
            reasons[utt] = f"too_long {sec:.3f}s > {max_sec}s"
        elif chars == 0:
            reasons[utt] = "empty_text"
        elif max_text_chars is not None and chars > max_text_chars:
            reasons[utt] = f"text_too_long {chars} chars > {max_text_chars}"
    return reasons


def filter_data(
    src: Path,
    dst: Path,
    fs: int,
    min_sec: float,
    max_sec: float,
    max_text_chars: Optional[int] = None,
) -> Tuple[int, Dict[str, str]]:
    """Write the kept utterances of src to dst; returns (n_kept, dropped reasons)."""
    if not (src / "utt2num_samples").is_file():
        raise DataDirError(
            f"{src / 'utt2num_samples'}: missing; run format_wav_scp first"
        )
    num_samples = read_map(src / "utt2num_samples")
    text = read_map(src / "text")
    for utt, n in num_samples.items():
        if not n.isdigit():
            raise DataDirError(
                f"{src / 'utt2num_samples'}: utt '{utt}': bad count '{n}'"
            )
    reasons = filter_reasons(num_samples, text, fs, min_sec, max_sec, max_text_chars)
    kept = [utt for utt in num_samples if utt not in reasons]
    if not kept:
        utt, reason = next(iter(reasons.items()))
        raise DataDirError(
            f"{src}: every utterance was filtered out (e.g. '{utt}': {reason})"
        )
    subset(src, dst, kept)
    write_map(dst / "filtered.txt", reasons)
    return len(kept), reasons


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fs", type=int, default=16000, help="sample rate of SRC (Hz)")
    parser.add_argument("--min_wav_duration", type=float, default=0.1, help="seconds")
    parser.add_argument("--max_wav_duration", type=float, default=20.0, help="seconds")
    parser.add_argument(
        "--max_text_chars", type=int, default=None, help="default: no limit"
    )
    parser.add_argument("src", type=Path, help="source data dir (formatted)")
    parser.add_argument("dst", type=Path, help="output data dir")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    try:
        n_kept, reasons = filter_data(
            args.src,
            args.dst,
            args.fs,
            args.min_wav_duration,
            args.max_wav_duration,
            args.max_text_chars,
        )
    except ValueError as e:  # DataDirError included
        sys.exit(f"filter_data: {e}")
    counts = Counter(reason.split()[0] for reason in reasons.values())
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    print(
        f"filter_data: {args.dst}: kept {n_kept} of {n_kept + len(reasons)}"
        + (f" ({detail})" if detail else "")
    )


if __name__ == "__main__":
    main()
