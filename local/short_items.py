#!/usr/bin/env python3
"""One- and two-word utterances cut from training sentences, read by the given voices.

::

    python "${MAIN_ROOT}/local/short_items.py" --items downloads/espeak_en/items/train.tsv \\
        [--items downloads/espeak_en/items/train_extra.tsv] --out downloads/espeak_en/items/train_short.tsv \\
        --voices en-us,en-us+m1,... [--num_utts 200] [--num_spk 32] [--seed 0] [--prefix s]

Every training set of the recipe has 3-12 words per utterance while every non-speech clip
has none, so a model trained on both learns "short = not speech" and decodes a real one-word
utterance ("YES") to "" (issue: generalization, the Whisper-hint row). This cuts spans of 1
or 2 consecutive words from sentences the recipe already trains on (so no new words and no
test sentence: the ``--items`` files are training sets), at least one word of 3+ letters
(not "OF A"), no span twice. Utterance ids are ``<spk>-<prefix><5 digits>``, disjoint from
the KJV (``<spk>-NNNNN``) and extra-text (``<spk>-xNNNNN``) ids.
"""

import argparse
import random
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from espnet_speechllm.utils.cli import parse_args

# Neighbours in local/ (a script's own folder is on sys.path).
from espeak_synth import read_items, write_items
from kjv_items import assign_speakers, speaker_profiles


def short_spans(sentences: Sequence[str], num: int, rng: random.Random) -> List[str]:
    """``num`` distinct 1-2-word spans of ``sentences`` (half of each length when possible)."""
    pool = {1: set(), 2: set()}
    for s in sentences:
        words = s.split()
        for n in (1, 2):
            for i in range(len(words) - n + 1):
                span = words[i:i + n]
                if max(len(w) for w in span) >= 3:
                    pool[n].add(" ".join(span))
    if len(pool[1]) + len(pool[2]) < num:
        raise ValueError(f"only {len(pool[1]) + len(pool[2])} distinct 1-2-word spans, "
                         f"asked for {num}")
    ones, twos = sorted(pool[1]), sorted(pool[2])
    rng.shuffle(ones)
    rng.shuffle(twos)
    n1 = min(len(ones), max(num // 2, num - len(twos)))
    spans = ones[:n1] + twos[:num - n1]
    rng.shuffle(spans)
    return spans


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=Path, action="append", required=True,
                   help="items .tsv of a training set (repeatable): the sentences to cut")
    p.add_argument("--out", type=Path, required=True, help="items .tsv for espeak_synth")
    p.add_argument("--voices", required=True, help="espeak-ng voices")
    p.add_argument("--num_utts", type=int, default=200)
    p.add_argument("--num_spk", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prefix", default="s", help="id tag after '<spk>-' (s: train, sd: dev)")
    p.add_argument("--rates", default="140,155,170,185,200")
    p.add_argument("--pitches", default="30,40,50,60,70")
    return p


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    sentences = [i.text for path in args.items for i in read_items(path)]
    rng = random.Random(args.seed)
    try:
        spans = short_spans(sentences, args.num_utts, rng)
    except ValueError as e:
        sys.exit(f"short_items: {e} (from {', '.join(map(str, args.items))})")
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    profiles = speaker_profiles(args.voices.split(","), args.num_spk, ints(args.rates),
                                ints(args.pitches), rng)
    items = assign_speakers(spans, profiles, tag=args.prefix)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_items(items, args.out)
    print(f"wrote {len(items)} short utterances "
          f"({sum(len(s.split()) == 1 for s in spans)} of one word) to {args.out}")


if __name__ == "__main__":
    main()
