#!/usr/bin/env python3
"""Training sentences from text sources other than the Bible, read by training voices.

::

    python "${MAIN_ROOT}/local/extra_text_items.py" --out downloads/espeak_en/items/train_extra.tsv \\
        --exclude downloads/espeak_en/items/test_ood.tsv [--source FILE ...] [--devil FILE] \\
        [--num_utts 1600] [--seed 0] [--voices en-us,en-us+m1,...] [--num_spk 32]

A speech-LLM trained on one text domain (KJV clauses) writes that domain's words for
whatever it hears (issue: generalization). This mixes in modern and 19th-century
English from two Debian packages: the ``fortunes`` files that ``fortunes-min`` does not
ship (wisdom, people, science, work, ...; the out-of-domain test set is drawn from
fortunes-min's ``fortunes``/``literature``/``riddles``, which are never read here) and
Ambrose Bierce's *Devil's Dictionary* (``dict-devil``, public domain). Every clause
that is also in an ``--exclude`` items file (the OOD test set) is dropped, so no test
sentence is ever trained on. Clauses are normalised exactly as the training text
(kjv_items.py); utterance ids are ``<spk>-x<5 digits>`` so they never collide with the
KJV set's ``<spk>-<5 digits>`` when the two are combined.
"""

import argparse
import gzip
import random
import re
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from espnet_speechllm.utils.cli import parse_args

# Neighbours in local/ (a script's own folder is on sys.path).
from espeak_synth import read_items, write_items
from fortunes_items import FORTUNES, SOURCES as OOD_SOURCES, ood_sentences, read_fortunes
from kjv_items import assign_speakers, speaker_profiles

# fortunes (the full package) minus fortunes-min's files, minus the offensive/ASCII ones.
FORTUNE_FILES = ("art computers cookie definitions drugs education food goedel humorists "
                 "kids law love magic medicine men-women miscellaneous news people pets "
                 "platitudes politics science songs-poems sports wisdom work").split()
DEVIL = "/usr/share/dictd/devil.dict.dz"


def read_devil(path: Path) -> List[str]:
    """Paragraphs of the Devil's Dictionary (dictzip is gzip), its header dropped."""
    text = gzip.open(path, "rt", encoding="utf-8", errors="replace").read()
    start = text.find("ABASEMENT")  # the first entry; before it is the licence header
    paragraphs = re.split(r"\n\s*\n", text[max(start, 0):])
    return [" ".join(p.split()) for p in paragraphs if p.strip()]


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", type=Path, action="append",
                   help=f"fortune files (default: {FORTUNES}/{{{','.join(FORTUNE_FILES)}}})")
    p.add_argument("--devil", default=DEVIL,
                   help="dict-devil's dictzip file ('' to leave it out)")
    p.add_argument("--exclude", type=Path, action="append", default=[],
                   help="items .tsv whose sentences must not be trained on (the OOD test set)")
    p.add_argument("--out", type=Path, required=True, help="items .tsv for espeak_synth")
    p.add_argument("--num_utts", type=int, default=1600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min_words", type=int, default=3)
    p.add_argument("--max_words", type=int, default=12)
    p.add_argument("--voices", required=True, help="espeak-ng voices (the training voices)")
    p.add_argument("--num_spk", type=int, default=32)
    p.add_argument("--rates", default="140,155,170,185,200")
    p.add_argument("--pitches", default="30,40,50,60,70")
    return p


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    sources = args.source or [Path(FORTUNES) / name for name in FORTUNE_FILES]
    ood = {str(Path(s)) for s in OOD_SOURCES}
    if any(str(s) in ood for s in sources):
        sys.exit(f"extra_text_items: {sorted(ood)} are the out-of-domain test set's sources")
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        sys.exit(f"extra_text_items: {missing[0]} not found: apt-get install fortunes")
    entries = [e for s in sources for e in read_fortunes(s)]
    if args.devil:  # a str: Path("") would be "." and never empty
        if not Path(args.devil).is_file():
            sys.exit(f"extra_text_items: {args.devil} not found: apt-get install dict-devil")
        entries += read_devil(Path(args.devil))
    excluded = {i.text for path in args.exclude for i in read_items(path)}
    pool = [s for s in ood_sentences(entries, args.min_words, args.max_words)
            if s not in excluded]
    if len(pool) < args.num_utts:
        sys.exit(f"extra_text_items: only {len(pool)} sentences pass the filters, "
                 f"--num_utts is {args.num_utts}")
    rng = random.Random(args.seed)
    rng.shuffle(pool)
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    profiles = speaker_profiles(args.voices.split(","), args.num_spk, ints(args.rates),
                                ints(args.pitches), rng)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_items(assign_speakers(pool[: args.num_utts], profiles, tag="x"), args.out)
    print(f"{len(pool)} sentences pass the filters ({len(excluded)} excluded sentences); "
          f"wrote {args.num_utts}")


if __name__ == "__main__":
    main()
