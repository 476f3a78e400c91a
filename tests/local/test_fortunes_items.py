"""Tests of local/fortunes_items.py (espeak_en's out-of-domain test set, fortunes-min)."""

import pytest

import fortunes_items as ood
from espeak_synth import read_items

FORTUNES = """A day for firm decisions!!!!!  Or is it?
%
Don't look back, the lemmings are gaining on you.
%
The best way to predict the future
is to invent it.
		-- Alan Kay
%
You have 3 new messages, and a bit of luck.
%
"""


def test_entries_joined_attributions_dropped_and_normalised_as_training_text(tmp_path):
    (tmp_path / "f").write_text(FORTUNES)
    entries = ood.read_fortunes(tmp_path / "f")
    assert entries[2] == "The best way to predict the future is to invent it."
    assert len(entries) == 4
    assert ood.ood_sentences(entries, 3, 12) == [
        "A DAY FOR FIRM DECISIONS",
        "DON'T LOOK BACK THE LEMMINGS ARE GAINING ON YOU",
        "OR IS IT",
        "THE BEST WAY TO PREDICT THE FUTURE IS TO INVENT IT",
    ]  # the entry with a digit is dropped, as in the training text


def test_main_writes_voiced_items_and_checks_the_pool_size(tmp_path, capsys):
    (tmp_path / "f").write_text(FORTUNES)
    (tmp_path / "vocab").write_text("A\nDAY\nFOR\nOR\nIS\nIT\n")
    out = tmp_path / "items" / "test_ood.tsv"
    args = ["--source", str(tmp_path / "f"), "--out", str(out), "--num_utts", "3",
            "--voices", "en-us,en+f3", "--num_spk", "2", "--vocab", str(tmp_path / "vocab")]
    ood.main(args)
    items = read_items(out)
    assert len(items) == 3 and {it.voice for it in items} == {"en-us", "en+f3"}
    assert all(it.utt_id.startswith(it.speaker + "-") for it in items)
    assert "4 out-of-domain sentences pass the filters; wrote 3; OOV rate" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="only 4 sentences pass the filters, --num_utts is 9"):
        ood.main(args[:4] + ["--num_utts", "9"])
