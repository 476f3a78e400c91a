import pytest

from espnet_speechllm.llm.prepare_lm_text import main


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_train_gets_asr_and_extra_text_dev_its_own(tmp_path):
    train = _write(tmp_path / "text", "u1 HELLO  WORLD\nu2\nu3 GOOD DAY\nu4 <nospeech>\n")
    extra = _write(tmp_path / "extra.txt", "more text here\n\nlast line\n")
    dev = _write(tmp_path / "dev", "d1 DEV ONE\n")
    out = tmp_path / "dump"
    for _ in range(2):  # re-running rewrites the same files
        main(
            ["--train_text", train, "--extra_text", extra, "--dev_text", dev]
            + ["--out_dir", str(out)]
        )
        assert (out / "lm_train.txt").read_text(encoding="utf-8") == (
            "u1 HELLO  WORLD\nu3 GOOD DAY\n"
            "lmextra1-00000001 more text here\nlmextra1-00000003 last line\n"
        )
        assert (out / "lm_dev.txt").read_text(encoding="utf-8") == "d1 DEV ONE\n"


def test_duplicate_ids_name_both_files(tmp_path):
    a = _write(tmp_path / "a", "u1 X\n")
    b = _write(tmp_path / "b", "u1 Y\n")
    with pytest.raises(ValueError, match=f"'u1' is in both {a} and {b}"):
        main(["--train_text", a, b, "--dev_text", a, "--out_dir", str(tmp_path / "o")])


def test_blank_line_is_reported_with_its_position(tmp_path):
    bad = _write(tmp_path / "text", "u1 X\n\nu2 Y\n")
    with pytest.raises(ValueError, match=f"{bad}:2: blank line"):
        main(["--train_text", bad, "--dev_text", bad, "--out_dir", str(tmp_path / "o")])
