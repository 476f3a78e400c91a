#!/usr/bin/env python3
"""A jsonl list of utterances -> a Kaldi data dir (what speechllm.sh reads).

::

    python local/jsonl_to_kaldi.py train.jsonl data/train

One JSON object a line, in either form:

- SLAM-LLM's: ``{"key": "utt1", "source": "/path/utt1.wav", "target": "the transcript"}``;
  optional ``"speaker"``, and ``"instruction"`` (or SLAM-LLM's ``"prompt"``): the
  per-utterance instruction of a chat-layout model (``model_conf.chat_layout``);
- a chat record: ``{"key", "source", "messages": [{"role", "content"}, ...]}``: the last
  message (role ``assistant``) is the target, the ``user`` message before it the
  instruction, and the turns before that the ``history`` (JSON, as the recipes' chat sets
  keep it).

Writes ``wav.scp``, ``text``, ``utt2spk`` (the key when there is no speaker), ``spk2utt`` and,
where records have them, ``instruction`` / ``history``: every record or none (a model reads
them for every utterance). Errors name ``file:line`` and the key. The reverse is
``local/kaldi_to_jsonl.py``.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet_speechllm.recipe.kaldi_dir import spk2utt_of, validate
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import write_map

FIELDS = ("wav.scp", "text", "utt2spk", "instruction", "history")


def parse_record(record: dict, where: str) -> Dict[str, str]:
    """One record -> its values per data-dir file (instruction / history when present)."""
    for name in ("key", "source"):
        if not isinstance(record.get(name), str) or not record[name].strip():
            raise ValueError(f"{where}: no '{name}' (a non-empty string)")
    key = record["key"]
    if len(key.split()) != 1:
        raise ValueError(f"{where}: key {key!r} holds whitespace (a Kaldi id cannot)")
    out = {"wav.scp": record["source"], "utt2spk": record.get("speaker") or key}
    if "messages" in record:
        msgs = record["messages"]
        ok = isinstance(msgs, list) and all(
            isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role")
            in ("system", "user", "assistant") for m in msgs
        )  # fmt: skip
        if not ok or len(msgs) < 2 or msgs[-1]["role"] != "assistant" or msgs[-2]["role"] != "user":
            raise ValueError(
                f"{where}: key '{key}': 'messages' must be [{{role, content}}, ...] ending "
                "with a user turn (the instruction) and the assistant's answer (the target)"
            )
        out["text"], out["instruction"] = msgs[-1]["content"], msgs[-2]["content"]
        out["history"] = json.dumps(msgs[:-2], ensure_ascii=False)  # [] for a first turn
    else:
        if not isinstance(record.get("target"), str):
            raise ValueError(f"{where}: key '{key}': no 'target' (or 'messages')")
        out["text"] = record["target"]
        instruction = record.get("instruction", record.get("prompt"))
        if instruction is not None:
            out["instruction"] = instruction
    out = {name: " ".join(str(v).split()) for name, v in out.items()}
    if not out["text"]:
        raise ValueError(f"{where}: key '{key}': empty target")
    return out


def read_jsonl(path: Path) -> Dict[str, Dict[str, str]]:
    """file name -> {key: value}, checking every line."""
    files: Dict[str, Dict[str, str]] = {name: {} for name in FIELDS}
    has: Dict[str, List[str]] = {"instruction": [], "history": []}
    first_line: Dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{where}: not JSON ({e.msg})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{where}: not a JSON object")
            values = parse_record(record, where)
            key = record["key"]
            if key in first_line:
                raise ValueError(f"{where}: key '{key}' repeats line {first_line[key]}")
            first_line[key] = n
            for name, value in values.items():
                files[name][key] = value
    if not first_line:
        raise ValueError(f"{path}: no records")
    for name in ("instruction", "history"):
        if files[name] and len(files[name]) != len(first_line):
            lacking = next(k for k in first_line if k not in files[name])
            raise ValueError(
                f"{path}:{first_line[lacking]}: key '{lacking}' has no {name} while "
                f"{len(files[name])} other record(s) have one: give every record one, or none"
            )
    return {name: values for name, values in files.items() if values}


def jsonl_to_kaldi(path: Path, out_dir: Path) -> int:
    """Write the data dir; returns its number of utterances."""
    files = read_jsonl(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, values in files.items():
        write_map(out_dir / name, values)
    write_map(out_dir / "spk2utt", spk2utt_of(files["utt2spk"]))
    validate(out_dir)
    return len(files["text"])


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("jsonl", type=Path)
    parser.add_argument("out_dir", type=Path, help="the Kaldi data dir to write")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    try:
        n = jsonl_to_kaldi(args.jsonl, args.out_dir)
    except (ValueError, OSError) as e:
        sys.exit(f"jsonl_to_kaldi: {e}")
    print(f"jsonl_to_kaldi: {args.out_dir}: {n} utterances")


if __name__ == "__main__":
    main()
