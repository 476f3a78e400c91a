import pytest

from espnet_speechllm.utils.kaldi_io import (
    KaldiFormatError,
    read_kaldi_text,
    read_map,
    read_map_for,
    read_token_list,
    write_map,
    write_token_list,
)


def test_read_map_takes_any_whitespace_after_the_id(tmp_path):
    (tmp_path / "text").write_text("u1\tHELLO  WORLD\nu2   YES\t\nu3\n", encoding="utf-8")
    assert read_map(tmp_path / "text") == {"u1": "HELLO  WORLD", "u2": "YES", "u3": ""}


def test_last_line_without_newline_is_read(tmp_path):
    (tmp_path / "text").write_text("u1 a\nu2 b c", encoding="utf-8")
    assert list(read_kaldi_text(tmp_path / "text")) == [("u1", "a"), ("u2", "b c")]
    (tmp_path / "tokens").write_text("<s>\n</s>\nhello", encoding="utf-8")
    assert read_token_list(tmp_path / "tokens") == ["<s>", "</s>", "hello"]


@pytest.mark.parametrize(
    "content, error",
    [
        ("u1 a\n\nu2 b\n", r"text:2: blank line"),
        ("u1 a\nu2 b\n \tu3 c\n", r"text:3: line starts with whitespace"),
        ("u1 a\nu2 b\nu1 c\n", r"text:3: id 'u1' duplicated \(first at line 1\)"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, content, error):
    (tmp_path / "text").write_text(content, encoding="utf-8")
    with pytest.raises(KaldiFormatError, match=error):
        read_map(tmp_path / "text")


def test_read_map_for_names_the_uncovered_ids(tmp_path):
    path = tmp_path / "answer"
    path.write_text("u1 yes\nu2 no|nope\n")
    assert read_map_for(path, ["u2", "u1"]) == {"u1": "yes", "u2": "no|nope"}
    with pytest.raises(KaldiFormatError, match=r"answer: no entry for 2 utt\(s\), e.g. 'u3'"):
        read_map_for(path, ["u1", "u3", "u4"])


def test_write_map_sorts_in_byte_order_and_round_trips(tmp_path):
    mapping = {"b": "2", "a_1": "x y", "B": "1", "a-1": "", "\u00e4": "umlaut"}
    write_map(tmp_path / "m", mapping)
    # C-locale order: uppercase < '-' group < '_' < lowercase < non-ASCII
    assert (tmp_path / "m").read_text(encoding="utf-8") == (
        "B 1\na-1\na_1 x y\nb 2\n\u00e4 umlaut\n"
    )
    assert read_map(tmp_path / "m") == mapping
    write_map(tmp_path / "unsorted", {"z": "1", "a": "2"}, sort=False)
    assert (tmp_path / "unsorted").read_text(encoding="utf-8") == "z 1\na 2\n"


def test_write_map_rejects_an_id_with_whitespace(tmp_path):
    with pytest.raises(KaldiFormatError, match=r"id 'u 1' is empty or holds whitespace"):
        write_map(tmp_path / "m", {"u 1": "x"})


def test_token_list_round_trips_tokens_that_splitlines_would_cut(tmp_path):
    tokens = ["<blank>", "a\x0bb", "c\u2028", "\x1c", "Ġthe", "<unk>"]
    write_token_list(tmp_path / "tokens.txt", tokens)
    assert (tmp_path / "tokens.txt").read_text(encoding="utf-8").count("\n") == len(tokens)
    assert read_token_list(tmp_path / "tokens.txt") == tokens


def test_token_list_errors_name_the_line(tmp_path):
    (tmp_path / "tokens.txt").write_text("a\n\nb\n", encoding="utf-8")
    with pytest.raises(KaldiFormatError, match=r"tokens.txt:2: empty token"):
        read_token_list(tmp_path / "tokens.txt")
    with pytest.raises(KaldiFormatError, match=r"token 1 \('x\\ny'\)"):
        write_token_list(tmp_path / "out.txt", ["a", "x\ny"])
