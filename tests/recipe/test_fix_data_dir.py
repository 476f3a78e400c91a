import pytest

from espnet_speechllm.recipe.fix_data_dir import fix
from espnet_speechllm.recipe.kaldi_dir import DataDirError, validate
from espnet_speechllm.utils.kaldi_io import read_map

UTTS = {
    "spkA-1": ("HELLO WORLD", "spkA", 1600),
    "spkA-2": ("GOOD MORNING", "spkA", 1600),
    "spkB-1": ("YES", "spkB", 800),
}

def test_fix_makes_dir_valid_and_keeps_originals(make_data_dir):
    d = make_data_dir(UTTS)
    (d / "text").write_text("spkB-1 YES\nspkA-2\nspkA-1 HELLO WORLD\nspkA-1 DUP\n")
    (d / "wav.scp").write_text((d / "wav.scp").read_text() + "spkC-1 /no/such.wav\n")
    (d / "utt2spk").unlink()
    (d / "spk2utt").unlink()
    originals = {n: (d / n).read_text() for n in ("text", "wav.scp")}

    dropped = dict(fix(d))

    validate(d)
    assert set(dropped) == {"spkA-2", "spkC-1"}
    assert "empty transcript in text" in dropped["spkA-2"]
    assert "missing in text" in dropped["spkC-1"]
    assert "audio file not found" in dropped["spkC-1"]
    assert read_map(d / "text") == {"spkA-1": "HELLO WORLD", "spkB-1": "YES"}
    assert read_map(d / "utt2spk") == {"spkA-1": "spkA-1", "spkB-1": "spkB-1"}
    assert read_map(d / "spk2utt") == {"spkA-1": "spkA-1", "spkB-1": "spkB-1"}
    for name, content in originals.items():
        assert (d / ".backup" / name).read_text() == content
    log = (d / ".backup" / "dropped.txt").read_text()
    assert "spkA-2 empty transcript in text" in log
    assert "spkA-1 duplicate line 4 of text removed" in log


def test_fix_twice_never_overwrites_a_backup(make_data_dir):
    d = make_data_dir(UTTS)
    first = (d / "text").read_text()
    fix(d)
    (d / "text").write_text("spkA-1 CHANGED\nspkA-2 GOOD MORNING\nspkB-1 YES\n")
    fix(d)
    assert (d / ".backup" / "text").read_text() == first
    assert (d / ".backup" / "text.1").read_text().startswith("spkA-1 CHANGED")


def test_fix_refuses_to_drop_everything(make_data_dir):
    d = make_data_dir(UTTS)
    (d / "text").write_text("other-1 X\n")
    before = (d / "wav.scp").read_text()
    with pytest.raises(DataDirError, match="would drop every utterance"):
        fix(d)
    assert (d / "wav.scp").read_text() == before


def test_fix_segmented_dir_drops_segments_without_recording(segmented_dir):
    d, _, _ = segmented_dir
    dropped = dict(fix(d))
    assert dropped == {"spk3-e": "recording 'rec9' of segments not in wav.scp"}
    validate(d)
    assert sorted(read_map(d / "segments")) == ["spk1-a", "spk1-b", "spk2-c", "spk2-d"]
    assert sorted(read_map(d / "wav.scp")) == ["rec1", "rec2"]  # keyed by recording, kept
    assert "spk3" not in read_map(d / "spk2utt")
