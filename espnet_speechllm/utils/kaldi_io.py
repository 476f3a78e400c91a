"""Kaldi text files: ``<id> <value>`` maps and one-token-per-line token lists.

The only reader and writer of these files in the project (data dirs, n-best
dirs, LM text, token lists), so that every tool agrees on the format:

- an id-value line is the id, any whitespace (spaces or tabs), then the value
  (possibly empty, inner whitespace kept, outer stripped), as Kaldi and ESPnet
  read it;
- a blank line or a line starting with whitespace (no id) is malformed: the
  error names ``file:line``;
- the last line may lack its newline.
"""

from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Tuple, Union

PathLike = Union[str, Path]


class KaldiFormatError(ValueError):
    """A Kaldi text file is malformed; the message names ``file:line``."""


def iter_lines(path: PathLike) -> Iterator[Tuple[int, str, str]]:
    """``(line number, id, value)`` of each line; value is ``""`` for a bare id.

    Raises:
        KaldiFormatError: a blank line or one starting with whitespace.
    """
    with open(path, encoding="utf-8", newline="\n") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            # NOTE: str.split() also splits on \x1c..\x1f and \x85, which Kaldi
            # does not; ids are plain ASCII in practice, values keep those chars.
            if not line.strip():
                raise KaldiFormatError(f"{path}:{n}: blank line (expected '<id> <value>')")
            if line[0].isspace():
                raise KaldiFormatError(f"{path}:{n}: line starts with whitespace (no id)")
            parts = line.split(maxsplit=1)
            yield n, parts[0], parts[1].strip() if len(parts) > 1 else ""


def read_kaldi_text(path: PathLike) -> Iterator[Tuple[str, str]]:
    """``(id, value)`` of each line, in file order (duplicate ids kept)."""
    for _, key, value in iter_lines(path):
        yield key, value


def read_map(path: PathLike) -> Dict[str, str]:
    """Read ``id value`` lines into a dict (file order).

    Raises:
        KaldiFormatError: a malformed line, or an id seen twice.
    """
    out: Dict[str, str] = {}
    first_line: Dict[str, int] = {}
    for n, key, value in iter_lines(path):
        if key in out:
            raise KaldiFormatError(
                f"{path}:{n}: id '{key}' duplicated (first at line {first_line[key]})"
            )
        out[key] = value
        first_line[key] = n
    return out


def read_map_for(path: PathLike, ids: Iterable[str]) -> Dict[str, str]:
    """``read_map(path)`` that must hold every id of ``ids`` (a data file of a set).

    Raises:
        KaldiFormatError: a malformed line, or an id of ``ids`` without an entry.
    """
    values = read_map(path)
    missing = [i for i in ids if i not in values]
    if missing:
        raise KaldiFormatError(
            f"{path}: no entry for {len(missing)} utt(s), e.g. '{missing[0]}'"
        )
    return values


def write_map(path: PathLike, mapping: Mapping[str, str], sort: bool = True) -> None:
    """Write ``id value`` lines, sorted by id unless ``sort=False``.

    Python's str order is the UTF-8 byte order of ``LC_ALL=C sort``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys: Iterable[str] = sorted(mapping) if sort else mapping
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for key in keys:
            if not key or key != key.strip() or len(key.split()) != 1:
                raise KaldiFormatError(f"{path}: id {key!r} is empty or holds whitespace")
            f.write(f"{key} {mapping[key]}\n" if mapping[key] else f"{key}\n")


def one_line(text: str) -> str:
    """A text as one Kaldi value: whitespace runs (newlines of a chat response) -> one space."""
    return " ".join(text.split())


def read_token_list(path: PathLike) -> List[str]:
    """Tokens, one per line, in id order; a last line without newline is kept.

    Only ``\\n`` ends a line: a token may be any other character (HF byte-level
    vocabularies hold ``\\x0b``, ``\\u2028``, ... that ``str.splitlines`` splits on).

    Raises:
        KaldiFormatError: an empty line (a token cannot be empty).
    """
    text = Path(path).read_text(encoding="utf-8")
    tokens = text.split("\n")
    if tokens[-1] == "":
        tokens.pop()
    for n, tok in enumerate(tokens, 1):
        if tok == "":
            raise KaldiFormatError(f"{path}:{n}: empty token")
    return tokens


def write_token_list(path: PathLike, tokens: Iterable[str]) -> None:
    """Write one token per line, each ending with a newline."""
    tokens = list(tokens)
    for i, tok in enumerate(tokens):
        if tok == "" or "\n" in tok:
            raise KaldiFormatError(f"{path}: token {i} ({tok!r}) is empty or holds a newline")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.writelines(t + "\n" for t in tokens)
