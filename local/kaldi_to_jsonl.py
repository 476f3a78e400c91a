#!/usr/bin/env python3
"""A Kaldi data dir -> a jsonl list of utterances (the reverse of local/jsonl_to_kaldi.py).

::

    python local/kaldi_to_jsonl.py dump/raw/test test.jsonl

One line per utterance, SLAM-LLM's ``{"key", "source", "target"}`` plus ``"speaker"``, and
``"instruction"`` / ``"history"`` (the list of turns) where the dir has them; or, with
``--chat``, ``{"key", "source", "messages"}`` (history turns, the instruction as the user
turn, the target as the assistant's). ``source`` is the wav.scp path: a command
(``cmd |``) or a segmented dir has none, so convert ``dump/raw/<set>`` (stage 3's output,
one file per utterance) instead; the error says so.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Iterator, Optional, Sequence

from espnet_speechllm.recipe.kaldi_dir import validate
from espnet_speechllm.recipe.segments import has_segments
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_map


def records(data_dir: Path, chat: bool = False) -> Iterator[dict]:
    """The jsonl records of a data dir, in id order."""
    if has_segments(data_dir):
        raise ValueError(
            f"{data_dir}: has segments (no file per utterance): convert stage 3's "
            f"dump/raw/{data_dir.name} instead"
        )
    validate(data_dir)
    wav, text = read_map(data_dir / "wav.scp"), read_map(data_dir / "text")
    opt = {n: read_map(data_dir / n) for n in ("utt2spk", "instruction", "history")
           if (data_dir / n).is_file()}  # fmt: skip
    for key in sorted(wav):
        if wav[key].endswith("|"):
            raise ValueError(
                f"{data_dir / 'wav.scp'}: utt '{key}' is a command, not a file: convert "
                f"stage 3's dump/raw/{data_dir.name} instead"
            )
        rec = {"key": key, "source": wav[key]}
        history = json.loads(opt["history"][key]) if "history" in opt else None
        if chat:
            user = opt.get("instruction", {}).get(key, "")
            rec["messages"] = [*(history or []), {"role": "user", "content": user},
                               {"role": "assistant", "content": text[key]}]  # fmt: skip
        else:
            rec["target"] = text[key]
            if "instruction" in opt:
                rec["instruction"] = opt["instruction"][key]
            if history is not None:
                rec["history"] = history
        if "utt2spk" in opt:
            rec["speaker"] = opt["utt2spk"][key]
        yield rec


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chat", action="store_true", help="write chat records (messages)")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("jsonl", type=Path)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), argv)
    try:
        lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records(args.data_dir, args.chat)]
    except (ValueError, OSError) as e:
        sys.exit(f"kaldi_to_jsonl: {e}")
    args.jsonl.parent.mkdir(parents=True, exist_ok=True)
    args.jsonl.write_text("".join(lines), encoding="utf-8")
    print(f"kaldi_to_jsonl: {args.jsonl}: {len(lines)} records")


if __name__ == "__main__":
    main()
