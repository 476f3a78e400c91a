#!/usr/bin/env python3
"""Lhotse manifests -> a Kaldi data dir (what speechllm.sh reads), with lhotse's own exporter.

::

    python local/lhotse_to_kaldi.py --cuts cuts.jsonl.gz data/train
    python local/lhotse_to_kaldi.py --recordings recordings.jsonl.gz \\
        --supervisions supervisions.jsonl.gz data/train

``lhotse.kaldi.export_to_kaldi`` writes ``wav.scp`` (by recording), ``segments`` (one per
supervision: stage 3 cuts them), ``text``, ``utt2spk``, ``utt2dur`` and ``reco2dur``; then
the dir is sorted, ``spk2utt`` written and checked (``espnet_speechllm.recipe.kaldi_dir``).
A supervision without text or speaker is reported by id. The reverse is
``local/kaldi_to_lhotse.py``.
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet_speechllm.recipe.fix_data_dir import fix
from espnet_speechllm.recipe.kaldi_dir import validate
from espnet_speechllm.utils.cli import parse_args


def load_manifests(cuts: Optional[Path], recordings: Optional[Path], supervisions: Optional[Path]):
    """(RecordingSet, SupervisionSet) of a CutSet file or of the two manifest files."""
    from lhotse import CutSet, RecordingSet, SupervisionSet

    if cuts is not None:
        recs, sups, _ = CutSet.from_file(cuts).decompose()
    else:
        recs, sups = RecordingSet.from_file(recordings), SupervisionSet.from_file(supervisions)
    if sups is None or len(sups) == 0:
        raise ValueError(f"{cuts or supervisions}: no supervisions (transcripts) to export")
    for sup in sups:
        if not sup.text or not sup.text.strip():
            raise ValueError(f"{cuts or supervisions}: supervision '{sup.id}' has no text")
        if not sup.speaker:
            raise ValueError(
                f"{cuts or supervisions}: supervision '{sup.id}' has no speaker "
                "(Kaldi's utt2spk needs one; use the supervision id when unknown)"
            )
    return recs, sups


def lhotse_to_kaldi(recs, sups, out_dir: Path, prefix_spk_id: bool = False) -> int:
    """Write the Kaldi dir; returns its number of utterances."""
    from lhotse.kaldi import export_to_kaldi

    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty: give a new directory")
    export_to_kaldi(recs, sups, out_dir, prefix_spk_id=prefix_spk_id)
    fix(out_dir)  # sort (LC_ALL=C), spk2utt
    validate(out_dir)
    return sum(1 for _ in open(out_dir / "segments", encoding="utf-8"))


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cuts", type=Path, help="CutSet manifest (cuts.jsonl.gz)")
    parser.add_argument("--recordings", type=Path, help="RecordingSet manifest")
    parser.add_argument("--supervisions", type=Path, help="SupervisionSet manifest")
    parser.add_argument(
        "--prefix_spk_id",
        action="store_true",
        help="prefix utterance ids with the speaker (Kaldi's sorting convention)",
    )
    parser.add_argument("out_dir", type=Path, help="the Kaldi data dir to write")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    if (args.cuts is None) == (args.recordings is None or args.supervisions is None):
        sys.exit("lhotse_to_kaldi: give --cuts, or --recordings and --supervisions")
    try:
        recs, sups = load_manifests(args.cuts, args.recordings, args.supervisions)
        n = lhotse_to_kaldi(recs, sups, args.out_dir, args.prefix_spk_id)
    except (ValueError, OSError) as e:
        sys.exit(f"lhotse_to_kaldi: {e}")
    print(f"lhotse_to_kaldi: {args.out_dir}: {n} utterances")


if __name__ == "__main__":
    main()
