#!/usr/bin/env python3
"""Texts of the espeak_chat test sets: spoken questions, instructions, dialogue turns, tasks.

::

    python "${MAIN_ROOT}/local/chat_items.py" --out_dir downloads/chat/items [--seed 0] \\
        [--num_qa 150] [--num_inst 100] [--num_multiturn 60] [--num_tasks 60]

Writes, under ``--out_dir``, one items TSV per set for ``espeak_synth.py`` and the set's
extra data files (``<utt> <value>`` lines, sorted)::

    test_qa.tsv        + test_qa.answer         short factual / arithmetic questions;
                                                answer: accepted answers ``a|b``
    test_inst.tsv                               instructions ("tell me a fact about the moon")
    test_multiturn.tsv + test_multiturn.history + .answer
                                                the spoken question refers to earlier text turns
                                                (history: JSON list of {role, content})
    test_tasks.tsv     + test_tasks.instruction plain sentences + a text instruction:
                                                translate into French / summarise / repeat

Transcripts are written as the espeak_en references are (upper-case words, no punctuation);
espeak-ng reads them lower-cased. Deterministic: the same ``--seed`` gives the same files.
Each set's speakers are test voices of espeak_en (never heard in training), random rate
and pitch.
"""

import argparse
import json
import random
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import write_map

# A neighbour in local/ (a script's own folder is on sys.path).
from espeak_synth import SynthItem, speaker_id, write_items

VOICES = ["en-us+m5", "en+f5", "en-gb-x-rp+m7", "en-gb-scotland+f5", "en-us-nyc+m7", "en-gb-x-gbclan+f5"]
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
           "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
           "eighteen", "nineteen", "twenty"]  # fmt: skip
CAPITALS = {"france": "paris", "germany": "berlin", "italy": "rome", "spain": "madrid",
            "japan": "tokyo", "england": "london", "russia": "moscow", "egypt": "cairo",
            "greece": "athens", "portugal": "lisbon", "ireland": "dublin", "austria": "vienna",
            "norway": "oslo", "sweden": "stockholm", "china": "beijing", "canada": "ottawa"}  # fmt: skip
FACTS = [("what colour is the sky on a clear day", "blue"), ("what colour is grass", "green"),
         ("what colour is snow", "white"), ("how many legs does a spider have", "eight|8"),
         ("how many days are in a week", "seven|7"), ("how many legs does a dog have", "four|4"),
         ("what is the opposite of hot", "cold"), ("what is the opposite of up", "down"),
         ("what is the opposite of big", "small|little"), ("what animal says moo", "cow"),
         ("what animal barks", "dog"), ("what do bees make", "honey"),
         ("what is frozen water called", "ice"), ("which planet do we live on", "earth"),
         ("what is the largest ocean", "pacific"), ("how many months are in a year", "twelve|12")]  # fmt: skip
TOPICS = ["the moon", "the sun", "the sea", "elephants", "cats", "dogs", "trees", "rain", "snow",
          "music", "bread", "the stars", "rivers", "mountains", "birds", "fire", "the wind",
          "apples", "horses", "bees", "gold", "the desert", "winter", "summer", "ships"]  # fmt: skip
INSTRUCTIONS = ["tell me a fact about {t}", "describe {t} in one sentence",
                "write a short poem about {t}", "give me one word that goes with {t}",
                "explain why {t} matter to people"]  # fmt: skip
NAMES = ["anna", "peter", "maria", "john", "sarah", "david", "emma", "paul", "lucy", "tom"]
SUBJECTS = ["the old man", "a small child", "the farmer", "my sister", "the teacher", "a tall woman",
            "the baker", "our neighbour"]  # fmt: skip
ACTIONS = ["walked to the market", "opened the window", "read a long book", "planted a tree",
           "cooked dinner for the family", "sang a song", "painted the door red",
           "found a lost key"]  # fmt: skip
TIMES = ["this morning", "yesterday", "after lunch", "in the evening", "last week"]
TASKS = ["Translate what was said into French", "Summarise what was said",
         "Repeat exactly what was said"]  # fmt: skip


def spoken(text: str) -> str:
    """A transcript as the espeak_en references: upper-case words, no punctuation."""
    return " ".join(text.replace("'", " ").upper().split())


def qa_items(rng: random.Random, n: int) -> List[Tuple[str, str]]:
    """(question, accepted answers) mixing capitals, arithmetic and common facts."""
    pool = [(f"what is the capital of {c}", a) for c, a in CAPITALS.items()] + list(FACTS)
    for a in range(1, 11):
        for b in range(1, 11):
            pool.append((f"what is {NUMBERS[a]} plus {NUMBERS[b]}", f"{NUMBERS[a + b]}|{a + b}"))
            if a > b:
                pool.append((f"what is {NUMBERS[a]} minus {NUMBERS[b]}", f"{NUMBERS[a - b]}|{a - b}"))
    rng.shuffle(pool)
    return pool[:n]


def multiturn_items(rng: random.Random, n: int) -> List[Tuple[str, List[Dict[str, str]], str]]:
    """(spoken question, earlier text turns, accepted answers); the answer is in the history."""
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            name = rng.choice(NAMES)
            hist = [("user", f"Hello, my name is {name.title()}."),
                    ("assistant", f"Nice to meet you, {name.title()}!")]  # fmt: skip
            out.append(("what is my name", hist, name))
        elif kind == 1:
            a, b = rng.randint(3, 9), rng.randint(1, 2)
            hist = [("user", f"I have {NUMBERS[a]} apples."), ("assistant", "That is nice.")]
            out.append((f"if i eat {NUMBERS[b]} how many are left", hist, f"{NUMBERS[a - b]}|{a - b}"))
        else:
            country = rng.choice(sorted(CAPITALS))
            hist = [("user", f"I am planning a trip to {country.title()}."),
                    ("assistant", "That sounds exciting! How can I help?")]  # fmt: skip
            out.append(("what is the capital city there", hist, CAPITALS[country]))
    return [(q, [{"role": r, "content": c} for r, c in h], a) for q, h, a in out]


def _speakers(rng: random.Random, n_spk: int) -> List[Tuple[str, int, int]]:
    return [(VOICES[i % len(VOICES)], rng.randrange(150, 191, 10), rng.randrange(35, 66, 5))
            for i in range(n_spk)]  # fmt: skip


def make_items(name: str, texts: List[str], rng: random.Random, n_spk: int) -> List[SynthItem]:
    """Deal texts round-robin to speakers; utt id ``<spk>-<name><index>``."""
    spk = _speakers(rng, n_spk)
    items = []
    for i, text in enumerate(texts):
        voice, rate, pitch = spk[i % len(spk)]
        utt = f"{speaker_id(voice, rate, pitch)}-{name.replace('_', '')}{i:04d}"
        items.append(SynthItem(utt, spoken(text), voice, rate, pitch))
    return items


def _write_map(path: Path, items: List[SynthItem], values: List[str]) -> None:
    write_map(path, dict(zip((it.utt_id for it in items), values)))


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num_qa", type=int, default=150)
    parser.add_argument("--num_inst", type=int, default=100)
    parser.add_argument("--num_multiturn", type=int, default=60)
    parser.add_argument("--num_tasks", type=int, default=60, help="per instruction")
    parser.add_argument("--num_spk", type=int, default=6)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    rng = random.Random(args.seed)
    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)

    qa = qa_items(rng, args.num_qa)
    items = make_items("test_qa", [q for q, _ in qa], rng, args.num_spk)
    write_items(items, out / "test_qa.tsv")
    _write_map(out / "test_qa.answer", items, [a for _, a in qa])

    pairs = sorted({(i, t) for i in INSTRUCTIONS for t in TOPICS})
    rng.shuffle(pairs)
    texts = [i.format(t=t) for i, t in pairs[: args.num_inst]]
    write_items(make_items("test_inst", texts, rng, args.num_spk), out / "test_inst.tsv")

    mt = multiturn_items(rng, args.num_multiturn)
    items = make_items("test_multiturn", [q for q, _, _ in mt], rng, args.num_spk)
    write_items(items, out / "test_multiturn.tsv")
    _write_map(out / "test_multiturn.history", items, [json.dumps(h) for _, h, _ in mt])
    _write_map(out / "test_multiturn.answer", items, [a for _, _, a in mt])

    sentences = sorted({f"{s} {a} {t}" for s in SUBJECTS for a in ACTIONS for t in TIMES})
    rng.shuffle(sentences)
    n = args.num_tasks * len(TASKS)
    items = make_items("test_tasks", sentences[:n], rng, args.num_spk)
    write_items(items, out / "test_tasks.tsv")
    tasks = [TASKS[i % len(TASKS)] for i in range(n)]
    rng.shuffle(tasks)  # not tied to the round-robin speakers
    _write_map(out / "test_tasks.instruction", items, tasks)
    print(f"chat_items: qa {len(qa)}, inst {len(texts)}, multiturn {len(mt)}, tasks {n} -> {out}")


if __name__ == "__main__":
    main()
