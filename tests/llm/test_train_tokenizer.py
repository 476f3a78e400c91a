"""train_tokenizer on tiny text: the byte-level floor and too few merges are reported."""

import logging

import pytest

from espnet_speechllm.llm.train_tokenizer import export_token_list, main, train_tokenizer

TEXTS = ["YES", "GO", "MARCH THIRD NINETEEN TWENTY EIGHT", "START"]


def test_vocab_below_byte_floor_warns(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        n = train_tokenizer(TEXTS, 200, str(tmp_path))
    assert n == 260  # 4 special tokens + 256 bytes
    assert "below the byte-level floor of 260" in caplog.text
    assert len(export_token_list(str(tmp_path), str(tmp_path / "tokens.txt"))) == 260


def test_too_little_text_for_vocab_warns(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        n = train_tokenizer(TEXTS, 1000, str(tmp_path))
    assert 260 < n < 1000
    assert f"the tokenizer has {n} tokens" in caplog.text


def test_exact_size_is_quiet(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert train_tokenizer(TEXTS * 3, 270, str(tmp_path)) == 270
    assert caplog.text == ""


def test_cli_writes_token_list(tmp_path):
    text = tmp_path / "text"
    text.write_text("".join(f"u{i} {t}\n" for i, t in enumerate(TEXTS)))
    main(["--text", str(text), "--vocab_size", "270", "--out_dir", str(tmp_path / "tok")]
         + ["--token_list", str(tmp_path / "tokens.txt")])
    tokens = (tmp_path / "tokens.txt").read_text().splitlines()
    assert tokens[:4] == ["<pad>", "<s>", "</s>", "<unk>"] and len(tokens) == 270
    with pytest.raises(SystemExit):
        main(["--out_dir", str(tmp_path / "tok2")])
