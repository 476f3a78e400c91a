"""Sets, voices and targets of the synthetic multilingual corpora (espeak_st, espeak_ml).

Draws unique derivations of ``parallel_grammar`` with ``--seed`` and cuts them into
test, dev and train, so no sentence is in two sets. Train and dev deal their
sentences round-robin over ``--langs``; every ``test_<lang>`` holds the *same*
``--num_test`` sentences, so per-language scores compare like with like. Speakers are
espeak-ng voice variant + rate + pitch; dev and test variants are never heard in
training.

Writes, per set ``S`` (``train``, ``dev``, ``test_de``, ...) into ``--out_dir``::

    S.tsv   items for local/espeak_synth.py (the source sentence is spoken)
    S.en    utt_id English translation
    S.src   utt_id source transcript
    S.lang  utt_id source language name (German, ...), for the ``{lang}`` prompt field
"""

import argparse
import random
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import write_map

# Siblings in local/ (a script's own folder is on sys.path; pytest.ini adds it for tests).
from espeak_synth import SynthItem, speaker_id, write_items
from parallel_grammar import render, sample_unique, split_sets
from parallel_lexicon import LANG_NAMES, LANGS

# espeak-ng voice of each language (``espeak-ng --voices``).
VOICES = {"de": "de", "es": "es", "fr": "fr-fr", "it": "it"}
TRAIN_VARIANTS = ("", "m1", "m2", "m3", "m6", "f1", "f2", "f4")
DEV_VARIANTS = ("m4", "f3")
TEST_VARIANTS = ("m5", "m7", "f5")
RATES = (140, 155, 170, 185, 200)
PITCHES = (30, 40, 50, 60, 70)

Profile = Tuple[str, int, int]


def speakers(
    lang: str, variants: Sequence[str], num_spk: int, rng: random.Random
) -> List[Profile]:
    """``num_spk`` distinct (voice, rate, pitch) of one language, variants used evenly."""
    if num_spk > len(variants) * len(RATES) * len(PITCHES):
        raise ValueError(f"{lang}: cannot make {num_spk} speakers from {variants}")
    voices = [VOICES[lang] + (f"+{v}" if v else "") for v in variants]
    rng.shuffle(voices)
    out: List[Profile] = []
    while len(out) < num_spk:
        p = (voices[len(out) % len(voices)], rng.choice(RATES), rng.choice(PITCHES))
        if p not in out:
            out.append(p)
    return out


def make_sets(
    langs: Sequence[str],
    num_train: int,
    num_dev: int,
    num_test: int,
    seed: int,
    num_spk: Tuple[int, int, int] = (8, 2, 3),
) -> Dict[str, List[Tuple[SynthItem, str, str]]]:
    """Items per set with their (English, language name).

    Returns:
        ``{set: [(item, english, lang_name), ...]}``; ``item.text`` is the source.
    """
    unknown = [x for x in langs if x not in LANGS]
    if unknown or not langs:
        raise ValueError(f"--langs {','.join(langs)}: choose from {','.join(LANGS)}")
    pool = sample_unique(num_test + num_dev + num_train, seed)
    cut = split_sets(pool, {"test": num_test, "dev": num_dev, "train": num_train})
    rng = random.Random(seed)
    plan = {"train": TRAIN_VARIANTS, "dev": DEV_VARIANTS, "test": TEST_VARIANTS}
    spk = {
        (name, lang): speakers(lang, plan[name], n, rng)
        for name, n in zip(("train", "dev", "test"), num_spk)
        for lang in langs
    }

    def item(name: str, lang: str, i: int, k: int) -> Tuple[SynthItem, str, str]:
        s = cut[name][i]
        voice, rate, pitch = spk[name, lang][k % len(spk[name, lang])]
        utt = f"{speaker_id(voice, rate, pitch)}-{i:05d}"
        src = render(s, lang)
        return SynthItem(utt, src, voice, rate, pitch), render(s, "en"), LANG_NAMES[lang]

    sets: Dict[str, List[Tuple[SynthItem, str, str]]] = {}
    for name in ("train", "dev"):
        sets[name] = [
            item(name, langs[i % len(langs)], i, i // len(langs))
            for i in range(len(cut[name]))
        ]
    for lang in langs:
        sets[f"test_{lang}"] = [item("test", lang, i, i) for i in range(num_test)]
    return sets


def write_sets(sets: Dict[str, List[Tuple[SynthItem, str, str]]], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in sets.items():
        write_items([it for it, _, _ in rows], out_dir / f"{name}.tsv")
        write_map(out_dir / f"{name}.en", {it.utt_id: en for it, en, _ in rows})
        write_map(out_dir / f"{name}.src", {it.utt_id: it.text for it, _, _ in rows})
        write_map(out_dir / f"{name}.lang", {it.utt_id: ln for it, _, ln in rows})


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out_dir", type=Path, required=True)
    p.add_argument("--langs", default=",".join(LANGS), help="comma-separated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num_train", type=int, default=3200, help="all languages")
    p.add_argument("--num_dev", type=int, default=200, help="all languages")
    p.add_argument("--num_test", type=int, default=100, help="per language")
    p.add_argument(
        "--num_spk", default="8,2,3", help="train,dev,test speakers per language"
    )
    return p


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    langs = [x for x in args.langs.split(",") if x]
    num_spk = tuple(int(x) for x in args.num_spk.split(","))
    if len(num_spk) != 3:
        raise ValueError(f"--num_spk {args.num_spk}: give train,dev,test")
    sets = make_sets(
        langs, args.num_train, args.num_dev, args.num_test, args.seed, num_spk
    )
    write_sets(sets, args.out_dir)
    train_en = {en for _, en, _ in sets["train"]}
    test_en = {en for _, en, _ in sets[f"test_{langs[0]}"]}
    words = {w for _, en, _ in sets["train"] for w in en.split()}
    print(
        " ".join(f"{k}={len(v)}" for k, v in sets.items())
        + f"; English train vocabulary {len(words)} words; "
        f"test sentences in train: {len(train_en & test_en)}"
    )


if __name__ == "__main__":
    main()
