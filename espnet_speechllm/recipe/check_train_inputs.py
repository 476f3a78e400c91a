"""Stages 10 and 11: check the files ESPnet's trainer will read, before it reads them.

::

    python -m espnet_speechllm.recipe.check_train_inputs \\
        --train_data_path_and_name_and_type dump/raw/train/wav.scp,speech,sound \\
        --train_data_path_and_name_and_type dump/raw/train/text,text,text \\
        [--valid_data_path_and_name_and_type ...] [--train_shape_file F ...] \\
        [--valid_shape_file F ...] [--stats_file feats_stats.npz] [--check_audio true]

The flags are ESPnet's (speechllm.sh passes the same arrays). ESPnet reads the data
files of a split line by line in step, and on a bad line says only ``Keys are
mismatched ... at L6`` (a line count summed over the files) or ``This line doesn't
include a space``. Here every file of a split must hold ``<utt> <value>`` lines with
a value, unique utts, the same utts as the first file, in the same order; the shape
files of stage 10 must list the same utts (else the stats are of other data); the
stats file must be finite; with --check_audio, float audio files must be finite.
Each problem names the file, line and utterance; exit status 1 if there is any.
"""

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import KaldiFormatError, iter_lines

_MAX_REPORTED = 50

# (line number, utt, value) of each line
Lines = List[Tuple[int, str, str]]


def read_lines(path: str, problems: List[str]) -> Optional[Lines]:
    """The lines of one data file; None (with the problem) when unreadable."""
    try:
        return list(iter_lines(path))
    except (OSError, KaldiFormatError) as e:
        problems.append(str(e))
        return None


def check_file(path: str, kind: str, lines: Lines) -> List[str]:
    """Duplicate utts and lines without a value."""
    problems = []
    first: Dict[str, int] = {}
    for n, utt, value in lines:
        if utt in first:
            problems.append(f"{path}:{n}: utt '{utt}' duplicated (first at line {first[utt]})")
        first.setdefault(utt, n)
        if not value:
            what = "an empty transcript" if kind == "text" else "no value"
            problems.append(f"{path}:{n}: utt '{utt}' has {what} (ESPnet needs '<utt> <value>')")
    return problems


def check_same_utts(ref: str, ref_lines: Lines, path: str, lines: Lines) -> List[str]:
    """``path`` must list the utts of ``ref``, in its order."""
    ref_line = {utt: n for n, utt, _ in ref_lines}
    utts = {utt for _, utt, _ in lines}
    problems = [
        f"{path}:{n}: utt '{utt}' is not in {ref}" for n, utt, _ in lines if utt not in ref_line
    ]
    problems += [
        f"{ref}:{n}: utt '{utt}' has no entry in {path}"
        for n, utt, _ in ref_lines
        if utt not in utts
    ]
    if not problems:
        for (n, utt, _), (_, want, _) in zip(lines, ref_lines):
            if utt != want:
                problems.append(
                    f"{path}:{n}: utt '{utt}' where {ref}:{n} has '{want}': ESPnet reads "
                    "the files in step, so they must be in the same order (LC_ALL=C sort)"
                )
                break
    return problems


def check_shape_file(ref: str, ref_lines: Lines, shape: str) -> List[str]:
    """A shape file of stage 10 must be of the same utts as the data."""
    problems: List[str] = []
    lines = read_lines(shape, problems)
    if lines is None:
        return problems
    rerun = "the stats are of other data: run stage 10 again"
    ref_utts = {utt for _, utt, _ in ref_lines}
    utts = {utt for _, utt, _ in lines}
    problems += [
        f"{shape}:{n}: utt '{utt}' is not in {ref} ({rerun})"
        for n, utt, _ in lines
        if utt not in ref_utts
    ]
    problems += [
        f"{ref}:{n}: utt '{utt}' is not in {shape} ({rerun})"
        for n, utt, _ in ref_lines
        if utt not in utts
    ]
    return problems


def check_audio(path: str, lines: Lines) -> List[str]:
    """Float audio files (a 16-bit PCM file cannot hold NaN) must be finite."""
    import numpy as np
    import soundfile

    problems = []
    for n, utt, value in lines:
        if value.endswith("|") or not Path(value).is_file():
            continue  # pipes and Kaldi archives: read by ESPnet only
        try:
            if soundfile.info(value).subtype not in ("FLOAT", "DOUBLE"):
                continue
            x, _ = soundfile.read(value, dtype="float32")
        except (RuntimeError, TypeError, ValueError) as e:  # libsndfile's errors
            problems.append(f"{path}:{n}: utt '{utt}': unreadable audio {value}: {e}")
            continue
        bad = int(np.size(x) - np.isfinite(x).sum())
        if bad:
            problems.append(
                f"{path}:{n}: utt '{utt}': {bad} non-finite sample(s) (NaN/inf) in {value} "
                "(stage 3 drops such audio)"
            )
    return problems


def check_stats(stats_file: str) -> List[str]:
    """The global_mvn stats of stage 10 must be finite."""
    import numpy as np

    try:
        stats = np.load(stats_file)
    except (OSError, ValueError) as e:
        return [f"{stats_file}: unreadable: {e}"]
    problems = []
    for key in stats.files:
        bad = int(np.size(stats[key]) - np.isfinite(stats[key]).sum())
        if bad:
            problems.append(
                f"{stats_file}: '{key}' holds {bad} non-finite value(s): stage 10 saw NaN/inf "
                "features (non-finite audio?); rerun stage 3 (it drops such audio) and stage 10"
            )
    return problems


def check_split(
    data: Sequence[str], shape_files: Sequence[str], audio: bool
) -> Tuple[int, List[str]]:
    """(number of utts, problems) of one split's ``path,name,type`` triples."""
    problems: List[str] = []
    files = []
    for triple in data:
        path, _, kind = triple.rsplit(",", 2)
        lines = read_lines(path, problems)
        if lines is not None:
            problems += check_file(path, kind, lines)
            files.append((path, kind, lines))
    if not files:
        return 0, problems
    ref, _, ref_lines = files[0]
    for path, kind, lines in files[1:]:
        problems += check_same_utts(ref, ref_lines, path, lines)
    for shape in shape_files:
        problems += check_shape_file(ref, ref_lines, shape)
    if audio:
        for path, kind, lines in files:
            if kind == "sound":
                problems += check_audio(path, lines)
    return len(ref_lines), problems


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    for split in ("train", "valid"):
        parser.add_argument(f"--{split}_data_path_and_name_and_type", action="append", default=[])
        parser.add_argument(f"--{split}_shape_file", action="append", default=[])
    parser.add_argument("--stats_file", default=None, help="feats_stats.npz of global_mvn")
    parser.add_argument(
        "--check_audio",
        choices=("true", "false"),
        default="false",
        help="read float audio files and check their samples are finite",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    problems: List[str] = []
    counts = []
    for split in ("train", "valid"):
        data = getattr(args, f"{split}_data_path_and_name_and_type")
        shapes = getattr(args, f"{split}_shape_file")
        n, found = check_split(data, shapes, args.check_audio == "true")
        problems += found
        counts.append(f"{split} {n} utts")
    if args.stats_file:
        problems += check_stats(args.stats_file)
    if problems:
        shown = problems[:_MAX_REPORTED]
        if len(problems) > len(shown):
            shown.append(f"... and {len(problems) - len(shown)} more")
        sys.exit(f"check_train_inputs: {len(problems)} problem(s):\n  " + "\n  ".join(shown))
    print(f"check_train_inputs: OK ({', '.join(counts)})")


if __name__ == "__main__":
    main()
