"""Recipe stage 6 (LLM from scratch): gather the LM's text as ESPnet data.

Writes ``<out_dir>/lm_train.txt`` (the ASR training text + optional extra
text) and ``<out_dir>/lm_dev.txt``, both Kaldi ``utt_id text`` lines, the
``text`` data that ``bin/lm_train`` reads. Utterances with empty text (or
the non-speech marker ``<nospeech>``) are dropped. Extra text files hold one sentence per line, without ids; their
ids become ``lmextra<k>-<line>``. Outputs are replaced whole on each run.
"""

import argparse
import logging
import os
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_kaldi_text, write_map
from espnet_speechllm.utils.nonspeech import is_nonspeech


def _read_plain_text(path: str, k: int) -> Iterator[Tuple[str, str]]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            yield f"lmextra{k}-{n:08d}", line.strip()


def _write(pairs: List[Tuple[str, str]], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write_map(tmp, dict(pairs), sort=False)
    os.replace(tmp, path)


def _collect(sources: List[Tuple[str, Iterator[Tuple[str, str]]]]):
    seen: Dict[str, str] = {}
    pairs, n_empty = [], 0
    for path, items in sources:
        for key, text in items:
            if key in seen:
                raise ValueError(f"utt_id {key!r} is in both {seen[key]} and {path}")
            seen[key] = path
            if text and not is_nonspeech(text):
                pairs.append((key, text))
            else:
                n_empty += 1
    return pairs, n_empty


def prepare_lm_text(
    train_text: List[str],
    dev_text: str,
    out_dir: str,
    extra_text: Optional[List[str]] = None,
) -> Tuple[int, int]:
    """Write ``lm_train.txt`` and ``lm_dev.txt``; return their utterance counts.

    Args:
        train_text: Kaldi text files (``utt_id text``) for training.
        dev_text: Kaldi text file for validation.
        out_dir: Output directory (``dump/raw``).
        extra_text: Plain text files, one sentence per line, added to training.
    """
    sources = [(p, read_kaldi_text(p)) for p in train_text]
    sources += [(p, _read_plain_text(p, k)) for k, p in enumerate(extra_text or [], 1)]
    train, n_empty = _collect(sources)
    dev, n_empty_dev = _collect([(dev_text, read_kaldi_text(dev_text))])
    if not train:
        raise ValueError(f"No non-empty text in {train_text + (extra_text or [])}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _write(train, out / "lm_train.txt")
    _write(dev, out / "lm_dev.txt")
    logging.info(
        f"{out}/lm_train.txt: {len(train)} utts, lm_dev.txt: {len(dev)} utts "
        f"({n_empty} + {n_empty_dev} empty ones dropped)"
    )
    return len(train), len(dev)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--train_text", nargs="+", required=True, help="Kaldi text file(s)"
    )
    p.add_argument("--dev_text", required=True, help="Kaldi text file")
    p.add_argument(
        "--extra_text", nargs="*", default=[], help="Plain text, a sentence a line"
    )
    p.add_argument("--out_dir", required=True, help="Output directory (dump/raw)")
    return p


def main(argv=None) -> None:
    args = parse_args(get_parser(), argv)
    prepare_lm_text(args.train_text, args.dev_text, args.out_dir, args.extra_text)


if __name__ == "__main__":
    main()
