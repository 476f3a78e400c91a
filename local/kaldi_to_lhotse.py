#!/usr/bin/env python3
"""A Kaldi data dir -> Lhotse manifests, with lhotse's own importer.

::

    python local/kaldi_to_lhotse.py --fs 16000 dump/raw/train exp/lhotse/train

Writes ``OUT/recordings.jsonl.gz``, ``OUT/supervisions.jsonl.gz`` and ``OUT/cuts.jsonl.gz``
(``lhotse.kaldi.load_kaldi_data_dir`` + ``CutSet.from_manifests``). The data dir is checked
first (``espnet_speechllm.recipe.kaldi_dir.validate``), so a problem is named as
``file:line``. The reverse is ``local/lhotse_to_kaldi.py``.
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_speechllm.recipe.kaldi_dir import validate
from espnet_speechllm.utils.cli import parse_args


def kaldi_to_lhotse(data_dir: Path, out_dir: Path, fs: int) -> int:
    """Write the three manifests; returns the number of supervisions."""
    from lhotse import CutSet
    from lhotse.kaldi import load_kaldi_data_dir

    validate(data_dir)
    recs, sups, _ = load_kaldi_data_dir(data_dir, sampling_rate=fs)
    if sups is None:
        raise ValueError(f"{data_dir}: lhotse found no supervisions (text, utt2spk)")
    out_dir.mkdir(parents=True, exist_ok=True)
    recs.to_file(out_dir / "recordings.jsonl.gz")
    sups.to_file(out_dir / "supervisions.jsonl.gz")
    CutSet.from_manifests(recordings=recs, supervisions=sups).to_file(out_dir / "cuts.jsonl.gz")
    return len(sups)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fs", type=int, required=True, help="sample rate of the audio (Hz)")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    try:
        n = kaldi_to_lhotse(args.data_dir, args.out_dir, args.fs)
    except (ValueError, OSError) as e:
        sys.exit(f"kaldi_to_lhotse: {e}")
    print(f"kaldi_to_lhotse: {args.out_dir}: {n} supervisions")


if __name__ == "__main__":
    main()
