#!/usr/bin/env python3
"""A Kaldi data dir from a corpus table such as mini_an4's ``utterances.tsv``.

::

    python "${MAIN_ROOT}/local/tsv_data_dir.py" --tsv ../shared/data/mini_an4/utterances.tsv \\
        --out data/test_real [--split test]

The table has a header naming at least ``utt_id``, ``speaker``, ``wav`` (relative to the
table's folder or absolute) and ``text``; with ``--split`` only rows of that ``split``
are kept. espeak_en uses all 7 mini_an4 utterances (real voices that the pretrained
stack never trains on) as its real-speech test set ``test_real``.
"""

import argparse
import csv
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_speechllm.utils.cli import parse_args

from espeak_synth import write_data_dir  # a neighbour in local/

_COLUMNS = ("utt_id", "speaker", "wav", "text")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tsv", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="output Kaldi data dir")
    p.add_argument("--split", help="keep only rows whose 'split' column is this")
    return p


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    if not args.tsv.is_file():
        sys.exit(f"tsv_data_dir: {args.tsv} not found")
    with open(args.tsv, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        rows = list(reader)
    missing = [c for c in _COLUMNS + (("split",) if args.split else ())
               if c not in (reader.fieldnames or [])]
    if missing:
        sys.exit(f"tsv_data_dir: {args.tsv} has no column {missing[0]!r}")
    rows = [r for r in rows if args.split is None or r["split"] == args.split]
    if not rows:
        sys.exit(f"tsv_data_dir: no rows in {args.tsv}" + (f" with split {args.split}" if args.split else ""))
    root = args.tsv.parent
    wavs = {r["utt_id"]: (root / r["wav"]).resolve() for r in rows}
    absent = [f"{u}: {w}" for u, w in wavs.items() if not w.is_file()]
    if absent:
        sys.exit(f"tsv_data_dir: audio not found for {absent[0]}")
    write_data_dir(args.out, wavs=wavs, texts={r["utt_id"]: r["text"] for r in rows},
                   utt2spk={r["utt_id"]: r["speaker"] for r in rows})
    print(f"{args.out}: {len(rows)} utts")


if __name__ == "__main__":
    main()
