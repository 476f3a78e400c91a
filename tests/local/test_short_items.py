"""Tests of local/short_items.py (1-2-word utterances against "short = non-speech")."""

import random

import pytest

import extra_text_items as extra
import short_items
from espeak_synth import SynthItem, read_items, write_items


def test_spans_are_one_or_two_consecutive_words_with_a_content_word():
    sentences = ["AND THE LORD SAID", "OF A PEOPLE", "THE LORD"]
    spans = short_items.short_spans(sentences, 8, random.Random(0))
    allowed = {"AND", "THE", "LORD", "SAID", "PEOPLE", "AND THE", "THE LORD", "LORD SAID",
               "A PEOPLE"}  # not "OF", "A", "OF A": no word of 3+ letters
    assert len(spans) == len(set(spans)) == 8
    assert set(spans) <= allowed
    assert sum(len(s.split()) == 1 for s in spans) == 4  # half of each length
    with pytest.raises(ValueError, match="only 9 distinct 1-2-word spans, asked for 10"):
        short_items.short_spans(sentences, 10, random.Random(0))


def test_main_writes_disjoint_ids_and_names_the_sources_when_too_few(tmp_path, capsys):
    src = tmp_path / "train.tsv"
    write_items([SynthItem("enus_r140_p30-00000", "BLESSED BE GOD", "en-us", 140, 30)], src)
    out = tmp_path / "short.tsv"
    args = ["--items", str(src), "--out", str(out), "--voices", "en-us,en+f3", "--num_spk", "2",
            "--num_utts", "4", "--prefix", "sd"]
    short_items.main(args)
    items = read_items(out)
    assert [len(i.text.split()) for i in items].count(1) == 2
    assert {i.text for i in items} <= {"BLESSED", "GOD", "BLESSED BE", "BE GOD"}
    assert all(i.utt_id.startswith(i.speaker + "-sd") for i in items)
    assert "wrote 4 short utterances (2 of one word)" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=f"only 4 distinct .* asked for 5 \\(from {src}\\)"):
        short_items.main(args[:-3] + ["5"])


def test_extra_text_leaves_the_devils_dictionary_out_with_an_empty_path(tmp_path):
    (tmp_path / "f").write_text("Look at the moon.\n%\n")
    out = tmp_path / "items.tsv"
    extra.main(["--source", str(tmp_path / "f"), "--devil", "", "--out", str(out),
                "--voices", "en-us", "--num_spk", "1", "--num_utts", "1"])
    assert [i.text for i in read_items(out)] == ["LOOK AT THE MOON"]
