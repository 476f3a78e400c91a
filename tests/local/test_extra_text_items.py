"""Tests of local/extra_text_items.py (diverse training text) and local/tsv_data_dir.py."""

import gzip
from pathlib import Path

import pytest

import extra_text_items as extra
import tsv_data_dir
from espeak_synth import SynthItem, read_items, write_items
from espnet_speechllm.utils.kaldi_io import read_map

FORTUNES = """Look at the moon.
%
If you are not for yourself, who will be for you?
		-- Hillel
%
Not enough gin.
%
"""
DEVIL = """00-database-short
     The Devil's Dictionary (1881-1906)
Copyright 1911 by Albert and Charles Boni, Inc.

ABASEMENT, n.  A decent and customary mental attitude in the presence
of wealth or power.

ABSENT, adj.  Peculiarly exposed to the tooth of detraction.
"""
MINI_AN4 = (Path(__file__).parents[2] / "../shared/data/mini_an4").resolve()


def _devil(tmp_path: Path) -> Path:
    path = tmp_path / "devil.dict.dz"
    with gzip.open(path, "wt") as f:
        f.write(DEVIL)
    return path


def test_devil_entries_without_the_licence_header(tmp_path):
    entries = extra.read_devil(_devil(tmp_path))
    assert entries == [
        "ABASEMENT, n. A decent and customary mental attitude in the presence of wealth or power.",
        "ABSENT, adj. Peculiarly exposed to the tooth of detraction.",
    ]


def test_main_mixes_sources_excludes_test_sentences_and_renames_ids(tmp_path, capsys):
    (tmp_path / "f").write_text(FORTUNES)
    exclude = tmp_path / "test_ood.tsv"
    write_items([SynthItem("enus_r140_p30-00000", "NOT ENOUGH GIN", "en-us", 140, 30)], exclude)
    out = tmp_path / "items.tsv"
    args = ["--source", str(tmp_path / "f"), "--devil", str(_devil(tmp_path)),
            "--exclude", str(exclude), "--out", str(out), "--voices", "en-us,en+f3",
            "--num_spk", "2", "--num_utts", "3"]
    extra.main(args)
    texts = {i.text for i in read_items(out)}
    assert "NOT ENOUGH GIN" not in texts
    # clauses of 3-12 words: the headwords ("ABASEMENT", "N") and the 13-word one are dropped
    assert texts == {"LOOK AT THE MOON", "IF YOU ARE NOT FOR YOURSELF WHO WILL BE FOR YOU",
                     "PECULIARLY EXPOSED TO THE TOOTH OF DETRACTION"}
    assert all(i.utt_id.startswith(i.speaker + "-x") for i in read_items(out))
    assert "3 sentences pass the filters (1 excluded sentences); wrote 3" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="only 3 sentences pass the filters, --num_utts is 9"):
        extra.main(args[:-1] + ["9"])


def test_main_refuses_the_out_of_domain_test_sources(tmp_path):
    with pytest.raises(SystemExit, match="out-of-domain test set's sources"):
        extra.main(["--source", extra.OOD_SOURCES[0], "--out", str(tmp_path / "x.tsv"),
                    "--voices", "en-us"])


def test_tsv_data_dir_from_mini_an4(tmp_path):
    out = tmp_path / "test_real"
    tsv_data_dir.main(["--tsv", str(MINI_AN4 / "utterances.tsv"), "--out", str(out),
                       "--split", "test"])
    assert read_map(out / "text") == {"fcaw-cen8-b": "ELEVEN TWENTY SEVEN FIFTY SEVEN",
                                      "mmxg-cen8-b": "OCTOBER TWENTY FOUR NINETEEN SEVENTY"}
    assert Path(read_map(out / "wav.scp")["fcaw-cen8-b"]).is_file()
    assert read_map(out / "spk2utt") == {"fcaw": "fcaw-cen8-b", "mmxg": "mmxg-cen8-b"}
    (tmp_path / "bad.tsv").write_text("utt_id\tspeaker\twav\n")
    with pytest.raises(SystemExit, match="has no column 'text'"):
        tsv_data_dir.main(["--tsv", str(tmp_path / "bad.tsv"), "--out", str(tmp_path / "o")])
