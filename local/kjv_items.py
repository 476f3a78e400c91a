#!/usr/bin/env python3
"""Pick the espeak_en sentences from the King James Bible and give each one a voice.

Input: the verse dump of Debian's ``bible-kjv`` (``bible -f gen1:1-rev22:21``), one
verse per line after its reference (``Ge1:3 And God said, Let there be light: ...``).

Verses are cut into clauses at ``. ; : ? !``, normalised to upper-case words without
punctuation (apostrophes kept), and a clause is kept when it has ``min_words`` to
``max_words`` words that are all among the ``vocab_size`` most frequent words of the
whole text. Unique clauses are shuffled with ``seed`` and cut into test, dev and train,
so no sentence is in two sets. Each set gets its own speakers (voice + rate + pitch),
drawn from that set's voice list; sentences are dealt to speakers round-robin.

Writes ``<out_dir>/{train,dev,test}.tsv`` (items for
``local/espeak_synth.py``) and ``<out_dir>/vocab.txt``, and prints set
sizes, vocabulary and test OOV rate.
"""

import argparse
import random
import re
from collections import Counter
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

from espnet_speechllm.utils.cli import parse_args

# A sibling in local/ (a script's own folder is on sys.path; pytest.ini adds it for tests).
from espeak_synth import SynthItem, speaker_id, write_items

_REF = re.compile(r"^\w+\d+:\d+$")  # verse reference, e.g. "Ge1:3", "1Co13:4"
_CLAUSE_END = re.compile(r"[.;:?!]")
_SPACE_LIKE = re.compile(r"[\s,()\[\]{}\"`\-]+")  # hyphenated words become two words
_WORD = re.compile(r"^[A-Z]+(?:'[A-Z]+)*$")  # letters with inner apostrophes: LORD'S


def read_verses(path: Path) -> List[str]:
    """Return the verse texts of a ``bible -f`` dump, references stripped."""
    verses = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        ref, _, text = line.partition(" ")
        if not _REF.match(ref):
            raise ValueError(
                f"{path}:{n}: line does not start with a verse reference: {line!r}"
            )
        verses.append(text)
    return verses


def split_clauses(verse: str) -> List[str]:
    """Cut a verse at sentence-level punctuation; empty pieces dropped."""
    return [c for c in _CLAUSE_END.split(verse) if c.strip()]


def normalise(text: str) -> Optional[str]:
    """Upper-case words, single-spaced, punctuation removed but apostrophes kept.

    Returns None when the text holds a number or a token that is not a word (so it
    cannot be spoken and scored as written). ``"Pharaoh's house, (in Egypt)."`` ->
    ``"PHARAOH'S HOUSE IN EGYPT"``.
    """
    if re.search(r"\d", text):
        return None
    words = []
    for tok in _SPACE_LIKE.split(text.upper()):
        tok = tok.strip(".;:?!'")  # quote marks and trailing punctuation, not inner "'"
        if not tok:
            continue
        if not _WORD.match(tok):
            return None
        words.append(tok)
    return " ".join(words) or None


def top_words(sentences: Iterable[str], size: int) -> Set[str]:
    """The ``size`` most frequent words; ties broken alphabetically for determinism."""
    counts = Counter(w for s in sentences for w in s.split())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {w for w, _ in ranked[:size]}


def select_sentences(
    sentences: Iterable[str], vocab: Set[str], min_words: int, max_words: int
) -> List[str]:
    """Unique sentences of ``min_words``..``max_words`` in-vocabulary words, sorted."""
    keep = set()
    for s in sentences:
        words = s.split()
        if min_words <= len(words) <= max_words and all(w in vocab for w in words):
            keep.add(s)
    return sorted(keep)


def split_sets(
    sentences: Sequence[str], sizes: Dict[str, int], seed: int
) -> Dict[str, List[str]]:
    """Shuffle unique sentences with ``seed``; cut consecutive slices of ``sizes``."""
    if len(set(sentences)) != len(sentences):
        raise ValueError("sentences must be unique so that sets do not share one")
    need = sum(sizes.values())
    if need > len(sentences):
        raise ValueError(
            f"asked for {need} sentences ({sizes}) but only {len(sentences)} pass the "
            "filters: raise --vocab_size or --max_words, or lower the set sizes"
        )
    pool = sorted(sentences)
    random.Random(seed).shuffle(pool)
    sets, start = {}, 0
    for name, size in sizes.items():
        sets[name] = pool[start : start + size]
        start += size
    return sets


def speaker_profiles(
    voices: Sequence[str],
    num_spk: int,
    rates: Sequence[int],
    pitches: Sequence[int],
    rng: random.Random,
) -> List[Tuple[str, int, int]]:
    """``num_spk`` distinct (voice, rate, pitch) combos, voices used evenly."""
    if num_spk > len(voices) * len(rates) * len(pitches):
        raise ValueError(
            f"cannot make {num_spk} distinct speakers from "
            f"{voices} x {rates} x {pitches}"
        )
    order = list(voices)
    rng.shuffle(order)
    profiles: List[Tuple[str, int, int]] = []
    while len(profiles) < num_spk:
        voice = order[len(profiles) % len(order)]
        profile = (voice, rng.choice(rates), rng.choice(pitches))
        if profile not in profiles:
            profiles.append(profile)
    return profiles


def assign_speakers(
    sentences: Sequence[str], profiles: Sequence[Tuple[str, int, int]], tag: str = ""
) -> List[SynthItem]:
    """Deal sentences round-robin to speakers; utt id ``<spk>-<tag><5-digit index>``.

    A ``tag`` keeps the ids of sets that are combined later disjoint (extra text: ``x``).
    """
    items = []
    for i, text in enumerate(sentences):
        voice, rate, pitch = profiles[i % len(profiles)]
        utt_id = f"{speaker_id(voice, rate, pitch)}-{tag}{i:05d}"
        items.append(SynthItem(utt_id, text, voice, rate, pitch))
    return items


def oov_rate(test: Iterable[str], train: Iterable[str]) -> float:
    """Fraction of test word tokens whose word never occurs in train."""
    seen = {w for s in train for w in s.split()}
    tokens = [w for s in test for w in s.split()]
    return sum(w not in seen for w in tokens) / max(1, len(tokens))


def _words(text: str) -> List[str]:
    return text.replace(",", " ").split()


def _ints(text: str) -> List[int]:
    return [int(x) for x in _words(text)]


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--source", type=Path, required=True, help="verse dump of `bible -f`"
    )
    p.add_argument("--out_dir", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num_train", type=int, default=3200)
    p.add_argument("--num_dev", type=int, default=200)
    p.add_argument("--num_test", type=int, default=200)
    p.add_argument("--vocab_size", type=int, default=1000)
    p.add_argument("--min_words", type=int, default=3)
    p.add_argument("--max_words", type=int, default=12)
    for name in ("train", "dev", "test"):
        p.add_argument(
            f"--{name}_voices", required=True, help="espeak-ng voices, comma-separated"
        )
    p.add_argument("--num_train_spk", type=int, default=32)
    p.add_argument("--num_dev_spk", type=int, default=6)
    p.add_argument("--num_test_spk", type=int, default=6)
    p.add_argument(
        "--rates", type=_ints, default=[140, 155, 170, 185, 200], help="words/min"
    )
    p.add_argument("--pitches", type=_ints, default=[30, 40, 50, 60, 70])
    return p


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    voices = {n: _words(getattr(args, f"{n}_voices")) for n in ("train", "dev", "test")}
    shared = set(voices["train"]) & set(voices["dev"] + voices["test"])
    if shared:
        raise ValueError(
            f"dev/test voices must not be training voices: {sorted(shared)}"
        )

    clauses = [normalise(c) for v in read_verses(args.source) for c in split_clauses(v)]
    clauses = [c for c in clauses if c]
    vocab = top_words(clauses, args.vocab_size)
    pool = select_sentences(clauses, vocab, args.min_words, args.max_words)
    sizes = {"test": args.num_test, "dev": args.num_dev, "train": args.num_train}
    sets = split_sets(pool, sizes, args.seed)

    rng = random.Random(args.seed)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in ("train", "dev", "test"):
        num_spk = getattr(args, f"num_{name}_spk")
        profiles = speaker_profiles(
            voices[name], num_spk, args.rates, args.pitches, rng
        )
        write_items(assign_speakers(sets[name], profiles), args.out_dir / f"{name}.tsv")
    (args.out_dir / "vocab.txt").write_text("".join(f"{w}\n" for w in sorted(vocab)))

    train_words = {w for s in sets["train"] for w in s.split()}
    print(
        f"{len(pool)} sentences pass the filters (top {args.vocab_size} words, "
        f"{args.min_words}-{args.max_words} words); train/dev/test = "
        + "/".join(str(len(sets[n])) for n in ("train", "dev", "test"))
        + f"; train vocabulary {len(train_words)} words; "
        f"test OOV rate vs train {100 * oov_rate(sets['test'], sets['train']):.2f}%"
    )


if __name__ == "__main__":
    main()
