#!/usr/bin/env python3
"""Pick out-of-domain test sentences from Debian's ``fortunes-min`` and give them voices.

::

    python "${MAIN_ROOT}/local/fortunes_items.py" --out downloads/espeak_en/items/test_ood.tsv \\
        [--source /usr/share/games/fortunes/fortunes ...] [--num_utts 200] [--seed 0] \\
        [--voices en-us,en-gb,en+f3,en+m7,...] [--num_spk 8] [--vocab downloads/espeak_en/items/vocab.txt]

The training text is the King James Bible; fortune cookies (modern English jokes,
proverbs, riddles and quotations) are a text domain no recipe trains on. Entries of
the fortune files are separated by ``%`` lines; attribution lines (``-- Author``) are
dropped, and the entries are cut into clauses and normalised exactly as the training
text (kjv_items.py: upper case, no punctuation but apostrophes, no digits).
Unique clauses of ``min_words``..``max_words`` words are shuffled with ``seed``; the
first ``num_utts`` are dealt round-robin to ``num_spk`` voice + rate + pitch speakers.
With ``--vocab`` (the training vocabulary) the OOV rate is printed.
"""

import argparse
import random
import re
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from espnet_speechllm.utils.cli import parse_args

# Neighbours in local/ (a script's own folder is on sys.path).
from espeak_synth import write_items
from kjv_items import assign_speakers, normalise, speaker_profiles, split_clauses

FORTUNES = "/usr/share/games/fortunes"
SOURCES = [f"{FORTUNES}/{name}" for name in ("fortunes", "literature", "riddles")]
_ATTRIBUTION = re.compile(r"^\s*(--|\u2014)")


def read_fortunes(path: Path) -> List[str]:
    """Entries of a fortune file (``%``-separated), attribution lines dropped."""
    entries, lines = [], []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines() + ["%"]:
        if line.strip() == "%":
            if lines:
                entries.append(" ".join(lines))
            lines = []
        elif not _ATTRIBUTION.match(line):
            lines.append(line.strip())
    return entries


def ood_sentences(entries: Sequence[str], min_words: int, max_words: int) -> List[str]:
    """Unique normalised clauses of min_words..max_words words, sorted."""
    keep = set()
    for entry in entries:
        for clause in split_clauses(entry):
            norm = normalise(clause)
            if norm and min_words <= len(norm.split()) <= max_words:
                keep.add(norm)
    return sorted(keep)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", type=Path, action="append", help=f"default: {SOURCES}")
    p.add_argument("--out", type=Path, required=True, help="items .tsv for espeak_synth")
    p.add_argument("--num_utts", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min_words", type=int, default=3)
    p.add_argument("--max_words", type=int, default=12)
    p.add_argument("--voices", default="en-us,en-gb,en+f3,en+m7,en-us+f2,en-gb-scotland+m3,"
                   "en-gb-x-rp+f5,en-029+m2")
    p.add_argument("--num_spk", type=int, default=8)
    p.add_argument("--rates", default="140,155,170,185,200")
    p.add_argument("--pitches", default="30,40,50,60,70")
    p.add_argument("--vocab", type=Path, help="training vocabulary, one word a line")
    return p


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    sources = args.source or [Path(s) for s in SOURCES]
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        sys.exit(f"fortunes_items: {missing[0]} not found: apt-get install fortunes-min")
    pool = ood_sentences([e for s in sources for e in read_fortunes(s)],
                         args.min_words, args.max_words)
    if len(pool) < args.num_utts:
        sys.exit(f"fortunes_items: only {len(pool)} sentences pass the filters, "
                 f"--num_utts is {args.num_utts}")
    rng = random.Random(args.seed)
    rng.shuffle(pool)
    sentences = pool[: args.num_utts]
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    profiles = speaker_profiles(args.voices.split(","), args.num_spk, ints(args.rates),
                                ints(args.pitches), rng)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_items(assign_speakers(sentences, profiles), args.out)
    report = f"{len(pool)} out-of-domain sentences pass the filters; wrote {len(sentences)}"
    if args.vocab:
        vocab = set(args.vocab.read_text().split())
        words = [w for s in sentences for w in s.split()]
        report += f"; OOV rate vs {args.vocab} {100 * sum(w not in vocab for w in words) / len(words):.1f}%"
    print(report)


if __name__ == "__main__":
    main()
