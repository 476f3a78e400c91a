import subprocess
import sys
from pathlib import Path

import pytest

from espnet_speechllm.recipe.kaldi_dir import (
    DataDirError,
    combine,
    main,
    split,
    subset,
    validate,
)
from espnet_speechllm.utils.kaldi_io import read_map, write_map

UTTS = {
    "spkA-1": ("HELLO WORLD", "spkA", 1600),
    "spkA-2": ("GOOD MORNING", "spkA", 1600),
    "spkB-1": ("YES", "spkB", 800),
}


def test_validate_accepts_good_dir(make_data_dir):
    validate(make_data_dir(UTTS))


def _replace_line(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, text)
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (
            lambda d: _replace_line(d / "text", "spkA-2 GOOD MORNING\n", "spkA-2\n"),
            r"text:2: utt 'spkA-2' has an empty transcript",
        ),
        (
            lambda d: _replace_line(
                d / "text", "spkB-1 YES\n", "spkB-1 YES\nspkB-1 NO\n"
            ),
            r"text:4: id 'spkB-1' duplicated",
        ),
        (
            lambda d: _replace_line(
                d / "text",
                "spkA-1 HELLO WORLD\nspkA-2 GOOD MORNING\n",
                "spkA-2 GOOD MORNING\nspkA-1 HELLO WORLD\n",
            ),
            r"text:2: id 'spkA-1' out of order",
        ),
        (
            lambda d: _replace_line(
                d / "text", "spkB-1 YES\n", "spkB-1 YES\nspkC-9 EXTRA\n"
            ),
            r"text:4: utt 'spkC-9' is not in wav.scp",
        ),
        (
            lambda d: _replace_line(d / "text", "spkB-1 YES\n", ""),
            r"wav.scp:3: utt 'spkB-1' has no entry in text",
        ),
        (
            lambda d: (d.parent / "data_wav" / "spkA-2.wav").unlink(),
            r"wav.scp:2: utt 'spkA-2': audio file not found: .*spkA-2.wav",
        ),
        (
            lambda d: _replace_line(d / "spk2utt", "spkA spkA-1 spkA-2", "spkA spkA-1"),
            r"spk2utt:1: speaker 'spkA' disagrees with utt2spk on utt\(s\) spkA-2",
        ),
        (lambda d: (d / "spk2utt").unlink(), r"spk2utt: missing while utt2spk exists"),
    ],
    ids=[
        "empty",
        "duplicate",
        "unsorted",
        "text_only",
        "wav_only",
        "no_audio",
        "spk2utt",
        "no_spk2utt",
    ],
)
def test_validate_names_file_line_and_utt(make_data_dir, breakage, expected):
    d = make_data_dir(UTTS)
    breakage(d)
    with pytest.raises(DataDirError, match=expected):
        validate(d)


def test_validate_reports_missing_required_file(make_data_dir):
    d = make_data_dir(UTTS)
    (d / "text").unlink()
    with pytest.raises(DataDirError, match=r"text: required file missing"):
        validate(d)


def test_subset_filters_every_utt_file_and_rebuilds_spk2utt(make_data_dir, tmp_path):
    d = make_data_dir(UTTS)
    (d / "feats_type").write_text("raw\n")
    kept = subset(d, tmp_path / "sub", ["spkA-2", "spkB-1", "nope"])
    assert kept == ["spkA-2", "spkB-1"]
    sub = tmp_path / "sub"
    validate(sub)
    assert read_map(sub / "text") == {"spkA-2": "GOOD MORNING", "spkB-1": "YES"}
    assert read_map(sub / "spk2utt") == {"spkA": "spkA-2", "spkB": "spkB-1"}
    assert (sub / "feats_type").read_text() == "raw\n"


def test_split_near_equal_contiguous_parts(tmp_path):
    lines = [f"u{i:02d} x\n" for i in range(10)]
    (tmp_path / "keys.scp").write_text("".join(lines))
    outs = split(tmp_path / "keys.scp", 4, tmp_path / "split" / "keys")
    assert [p.name for p in outs] == ["keys.1", "keys.2", "keys.3", "keys.4"]
    parts = [p.read_text().splitlines(keepends=True) for p in outs]
    assert [len(p) for p in parts] == [3, 3, 2, 2]
    assert sum(parts, []) == lines


def test_split_more_parts_than_lines_is_an_error(tmp_path):
    (tmp_path / "keys.scp").write_text("a x\nb y\n")
    with pytest.raises(
        DataDirError, match=r"keys.scp: cannot split 2 line\(s\) into 3"
    ):
        split(tmp_path / "keys.scp", 3, tmp_path / "keys")


def test_combine_merges_and_rejects_duplicate_ids(make_data_dir, tmp_path):
    a = make_data_dir({"spkA-1": ("HI", "spkA", 800)}, name="a")
    b = make_data_dir({"spkB-1": ("YO", "spkB", 800)}, name="b")
    (b / "utt2spk").unlink()  # defaults to utt -> utt
    (b / "spk2utt").unlink()
    assert combine(tmp_path / "ab", [a, b]) == 2
    validate(tmp_path / "ab")
    assert read_map(tmp_path / "ab" / "utt2spk") == {
        "spkA-1": "spkA",
        "spkB-1": "spkB-1",
    }
    with pytest.raises(DataDirError, match=r"utt 'spkA-1' is in both .*a and .*a"):
        combine(tmp_path / "aa", [a, a])


def test_prompt_fields_are_utterance_files(make_data_dir, tmp_path):
    # instruction / history (the chat layout's fields) are keyed by utterance: subset
    # keeps the chosen ids' lines, combine merges them.
    a = make_data_dir(UTTS, name="a")
    write_map(a / "instruction", {u: f"Transcribe {u}." for u in UTTS})
    write_map(a / "history", {u: "[]" for u in UTTS})
    subset(a, tmp_path / "sub", ["spkA-2"])
    assert read_map(tmp_path / "sub" / "instruction") == {"spkA-2": "Transcribe spkA-2."}
    assert read_map(tmp_path / "sub" / "history") == {"spkA-2": "[]"}
    b = make_data_dir({"spkC-1": ("HI", "spkC", 800)}, name="b")
    write_map(b / "instruction", {"spkC-1": "Say it."})
    combine(tmp_path / "ab", [tmp_path / "sub", b])
    assert read_map(tmp_path / "ab" / "instruction") == {
        "spkA-2": "Transcribe spkA-2.", "spkC-1": "Say it."}
    assert not (tmp_path / "ab" / "history").exists()  # b has none: left out, not mixed


def test_cli_validate_exits_1_with_message(make_data_dir, capsys):
    d = make_data_dir(UTTS)
    (d / "text").write_text("spkA-1 HELLO WORLD\nspkA-2 GOOD MORNING\n")
    with pytest.raises(SystemExit) as e:
        main(["validate", str(d)])
    assert "utt 'spkB-1' has no entry in text" in str(e.value.code)
    main(["fix", str(d)])
    main(["validate", str(d)])
    assert "is OK" in capsys.readouterr().out


def test_module_runs_as_script():
    out = subprocess.run(
        [sys.executable, "-m", "espnet_speechllm.recipe.kaldi_dir", "--help"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert out.returncode == 0
    assert "validate" in out.stdout and "combine" in out.stdout


def test_segmented_dir_subset_keeps_the_recordings_it_uses(segmented_dir, tmp_path):
    src, _, _ = segmented_dir
    kept = subset(src, tmp_path / "sub", ["spk2-c", "spk1-a", "nope"])
    assert kept == ["spk1-a", "spk2-c"]
    sub = tmp_path / "sub"
    assert read_map(sub / "segments") == {"spk1-a": "rec1 0.00 0.50", "spk2-c": "rec2 0.5 -1"}
    assert sorted(read_map(sub / "wav.scp")) == ["rec1", "rec2"]
    assert sorted(read_map(sub / "text")) == ["spk1-a", "spk2-c"]
    subset(src, tmp_path / "one", ["spk1-b"])
    assert sorted(read_map(tmp_path / "one" / "wav.scp")) == ["rec1"]
    assert read_map(tmp_path / "one" / "reco2file_and_channel") == {"rec1": "rec1 A"}
    validate(tmp_path / "one")


def test_combine_refuses_segmented_with_unsegmented(segmented_dir, make_data_dir, tmp_path):
    src, _, _ = segmented_dir
    plain = make_data_dir(UTTS, "plain")
    with pytest.raises(DataDirError, match="has segments but .*plain has none"):
        combine(tmp_path / "both", [src, plain])
    subset(src, tmp_path / "a", ["spk1-a"])
    subset(src, tmp_path / "b", ["spk2-c"])
    assert combine(tmp_path / "ab", [tmp_path / "a", tmp_path / "b"]) == 2
    validate(tmp_path / "ab")
    assert sorted(read_map(tmp_path / "ab" / "segments")) == ["spk1-a", "spk2-c"]
