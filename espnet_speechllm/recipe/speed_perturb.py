"""Speed perturbation of a data dir (stage 2): one copy of every utterance per factor.

::

    python -m espnet_speechllm.recipe.speed_perturb --factors "0.9 1.0 1.1" SRC DST

For factor f != 1.0, ids and speakers get the prefix ``sp<f>-`` and the audio becomes a
sox pipe, ``sox <path> -t wav - speed <f> |`` (for a pipe input, ``<cmd> | sox -t wav -
-t wav - speed <f> |``); factor 1.0 keeps ids and audio. sox's ``speed`` changes tempo
and pitch together and keeps the sample rate. utt2num_samples and utt2dur are not
written (stage 3 measures the new lengths); other utterance files are copied.
"""

import argparse
import logging
import shlex
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet_speechllm.recipe.kaldi_dir import is_utt_file, spk2utt_of, validate
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_map, write_map

# Lengths change with the speed; stage 3 recomputes them.
_LENGTH_FILES = ("utt2num_samples", "utt2dur")


def perturbed_audio(value: str, factor: str) -> str:
    """The wav.scp value of an entry played at ``factor`` speed."""
    if value.endswith("|"):
        return f"{value[:-1].rstrip()} | sox -t wav - -t wav - speed {factor} |"
    # sox picks the input format from the extension (wav, flac, sph, ...).
    return f"sox {shlex.quote(value)} -t wav - speed {factor} |"


def prefix_of(factor: str) -> str:
    return "" if float(factor) == 1.0 else f"sp{factor}-"


def speed_perturb(src: Path, dst: Path, factors: Sequence[str]) -> int:
    """Write dst with one copy of src per factor; returns the number of utterances."""
    validate(src, need=("wav.scp",))
    for factor in factors:
        if float(factor) <= 0:
            raise ValueError(f"speed factor must be > 0, got {factor}")
    if len({prefix_of(f) for f in factors}) < len(factors):
        raise ValueError(f"duplicate speed factors in {list(factors)}")
    names = [
        p.name for p in sorted(src.iterdir()) if p.is_file() and is_utt_file(p.name)
    ]
    skipped = [n for n in names if n.endswith(".scp") and n != "wav.scp"]
    skipped += [n for n in names if n in _LENGTH_FILES]
    if skipped:
        logging.info(
            f"speed_perturb: not carried over (lengths change): {' '.join(skipped)}"
        )
    src_maps = {n: read_map(src / n) for n in names if n not in skipped}
    src_maps.setdefault("utt2spk", {utt: utt for utt in src_maps["wav.scp"]})

    out: Dict[str, Dict[str, str]] = {name: {} for name in src_maps}
    for factor in factors:
        prefix = prefix_of(factor)
        for name, mapping in src_maps.items():
            for utt, value in mapping.items():
                if name == "wav.scp" and prefix:
                    value = perturbed_audio(value, factor)
                elif name == "utt2spk":
                    value = prefix + value
                out[name][prefix + utt] = value
    dst.mkdir(parents=True, exist_ok=True)
    for name, mapping in out.items():
        write_map(dst / name, mapping)
    write_map(dst / "spk2utt", spk2utt_of(out["utt2spk"]))
    return len(out["wav.scp"])


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--factors",
        required=True,
        help='space-separated speed factors, e.g. "0.9 1.0 1.1"',
    )
    parser.add_argument("src", type=Path, help="source data dir")
    parser.add_argument("dst", type=Path, help="output data dir")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    factors: List[str] = args.factors.split()
    try:
        n = speed_perturb(args.src, args.dst, factors)
    except ValueError as e:  # DataDirError included
        sys.exit(f"speed_perturb: {e}")
    print(f"speed_perturb: {args.dst}: {n} utterances ({len(factors)} factor(s))")


if __name__ == "__main__":
    main()
