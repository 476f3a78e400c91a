"""Tests of local/kjv_items.py (espeak_en's sentence and voice selection)."""

import random
from pathlib import Path

import pytest

import kjv_items as prep
from espeak_synth import read_items


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Pharaoh's house, (in Egypt).", "PHARAOH'S HOUSE IN EGYPT"),
        ("  and   God said ", "AND GOD SAID"),
        ("the burnt-offering", "THE BURNT OFFERING"),
        ("'Tis the LORD'S doing!'", "TIS THE LORD'S DOING"),
        ('he said, "Go"', "HE SAID GO"),
        ("in the 12th year", None),  # numbers: dropped
        ("shekels 40 of silver", None),
        ("the café is open", None),  # odd token
        ("a_b was here", None),
        (" , ; ", None),  # nothing left
    ],
)
def test_normalise(raw, expected):
    assert prep.normalise(raw) == expected


def test_split_clauses():
    verse = "And God said, Let there be light: and there was light. Amen? "
    assert prep.split_clauses(verse) == [
        "And God said, Let there be light",
        " and there was light",
        " Amen",
    ]


def test_read_verses(tmp_path):
    src = tmp_path / "kjv.txt"
    src.write_text("Ge1:1 In the beginning.\n\n1Co13:4 Charity suffereth long.\n")
    assert prep.read_verses(src) == ["In the beginning.", "Charity suffereth long."]
    src.write_text("Ge1:1 In the beginning.\nno reference here\n")
    with pytest.raises(
        ValueError, match=r"kjv.txt:2: line does not start with a verse"
    ):
        prep.read_verses(src)


def test_top_words_breaks_ties_alphabetically():
    sents = ["B A", "C A", "D A B"]  # A:3, B:2, C:1, D:1
    assert prep.top_words(sents, 2) == {"A", "B"}
    assert prep.top_words(sents, 3) == {"A", "B", "C"}
    assert prep.top_words(reversed(sents), 3) == {"A", "B", "C"}


def test_select_sentences_vocab_and_length_filter():
    vocab = {"THE", "LORD", "IS", "GOOD"}
    sents = ["THE LORD IS GOOD", "THE LORD", "THE LORD IS GREAT", "THE LORD IS GOOD"]
    assert prep.select_sentences(sents, vocab, 3, 4) == ["THE LORD IS GOOD"]
    assert prep.select_sentences(sents, vocab, 2, 3) == ["THE LORD"]


def test_split_sets_disjoint_and_seeded():
    sents = [f"S{i}" for i in range(50)]
    sizes = {"test": 5, "dev": 5, "train": 30}
    sets = prep.split_sets(sents, sizes, seed=3)
    assert {k: len(v) for k, v in sets.items()} == sizes
    assert len(set().union(*map(set, sets.values()))) == 40  # no sentence twice
    assert prep.split_sets(list(reversed(sents)), sizes, seed=3) == sets
    assert prep.split_sets(sents, sizes, seed=4) != sets
    with pytest.raises(ValueError, match="asked for 60 sentences .* only 50 pass"):
        prep.split_sets(sents, {"test": 10, "dev": 10, "train": 40}, seed=0)
    with pytest.raises(ValueError, match="unique"):
        prep.split_sets(["A", "A", "B"], {"train": 1}, seed=0)


def test_speaker_profiles_distinct_and_balanced():
    voices = ["en-us", "en+m3", "en+f2"]
    profiles = prep.speaker_profiles(voices, 9, [150, 170], [40, 60], random.Random(0))
    assert len(set(profiles)) == 9
    assert sorted(p[0] for p in profiles) == sorted(voices * 3)
    with pytest.raises(ValueError, match="cannot make 5 distinct speakers"):
        prep.speaker_profiles(["en"], 5, [150, 170], [40, 60], random.Random(0))


def test_assign_speakers_ids_group_by_speaker():
    profiles = [("en-us+m1", 150, 40), ("en", 170, 60)]
    items = prep.assign_speakers(["A B C", "D E F", "G H I"], profiles)
    assert [it.utt_id for it in items] == [
        "enus_m1_r150_p40-00000",
        "en_r170_p60-00001",
        "enus_m1_r150_p40-00002",
    ]
    assert all(it.utt_id.startswith(it.speaker + "-") for it in items)


def test_oov_rate():
    assert prep.oov_rate(["A B", "C D"], ["A B C"]) == 0.25


def _source(path: Path) -> Path:
    # 60 distinct 4-word clauses over a 12-word vocabulary + noise that must be dropped.
    words = "THE LORD SAID UNTO MOSES AND AARON GO SPEAK TO HIS PEOPLE".split()
    lines = []
    for i in range(60):
        clause = " ".join(words[(i + k * (1 + i // 12)) % 12] for k in range(4))
        lines.append(f"Ge1:{i + 1} {clause.capitalize()}; in the 3rd year.")
    lines.append("Ex2:1 Zebulun naphtali benjamin issachar.")  # rare words only
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(tmp_path: Path, out: str, seed: int = 7) -> Path:
    opts = (
        f"--seed {seed} --num_train 30 --num_dev 5 --num_test 5 --vocab_size 12"
        " --min_words 3 --max_words 6 --train_voices en-us,en+m1 --dev_voices en+m4"
        " --test_voices en+f5 --num_train_spk 4 --num_dev_spk 2 --num_test_spk 2"
    )
    source = _source(tmp_path / "kjv.txt")
    prep.main(
        ["--source", str(source), "--out_dir", str(tmp_path / out)] + opts.split()
    )
    return tmp_path / out


def test_main_end_to_end_is_deterministic(tmp_path, capsys):
    out = _run(tmp_path, "a")
    assert "train/dev/test = 30/5/5" in capsys.readouterr().out
    sets = {n: read_items(out / f"{n}.tsv") for n in ("train", "dev", "test")}
    texts = {n: {it.text for it in items} for n, items in sets.items()}
    assert {n: len(t) for n, t in texts.items()} == {"train": 30, "dev": 5, "test": 5}
    assert not texts["train"] & texts["dev"] and not texts["train"] & texts["test"]
    assert not texts["dev"] & texts["test"]
    assert {it.voice for it in sets["train"]} == {"en-us", "en+m1"}
    assert {it.voice for it in sets["test"]} == {"en+f5"}
    assert len({it.speaker for it in sets["train"]}) == 4
    assert all("ZEBULUN" not in t for t in texts["train"])  # out of vocabulary
    assert len((out / "vocab.txt").read_text().split()) == 12
    again = _run(tmp_path, "b")
    for name in ("train.tsv", "dev.tsv", "test.tsv", "vocab.txt"):
        assert (out / name).read_bytes() == (again / name).read_bytes()
    other = _run(tmp_path, "c", seed=8)
    assert (out / "test.tsv").read_bytes() != (other / "test.tsv").read_bytes()


def test_main_rejects_test_voice_used_in_training(tmp_path):
    opts = "--train_voices en-us,en+m1 --dev_voices en+m4 --test_voices en+m1"
    source = _source(tmp_path / "kjv.txt")
    with pytest.raises(ValueError, match=r"must not be training voices: \['en\+m1'\]"):
        prep.main(["--source", str(source), "--out_dir", str(tmp_path)] + opts.split())
