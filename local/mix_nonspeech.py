#!/usr/bin/env python3
"""Add ratio * |train| non-speech utterances to a training set (arXiv 2406.17272, Sec. 3.3).

::

    python "${MAIN_ROOT}/local/mix_nonspeech.py" --train data/train --nonspeech data/train_nonspeech \\
        --ratio 0.1 --seed 0 --out data/train_nonspeech0.1

Draws ``round(ratio * n_train)`` utterances of the non-speech dir (built by
nonspeech_synth.py) with ``seed`` and combines them with the training dir into ``--out``
(``espnet_speechllm.recipe.kaldi_dir`` subset + combine). Train on it with
``./run.sh --train_set train_nonspeech0.1``.
"""

import argparse
import random
import sys
import tempfile
from pathlib import Path
from typing import List, Optional, Sequence

from espnet_speechllm.recipe.kaldi_dir import combine, subset
from espnet_speechllm.utils.cli import parse_args
from espnet_speechllm.utils.kaldi_io import read_map


def draw(ids: Sequence[str], n_train: int, ratio: float, seed: int) -> List[str]:
    """``round(ratio * n_train)`` of ``ids`` drawn with ``seed``, sorted."""
    want = round(ratio * n_train)
    if ratio < 0 or want > len(ids):
        raise ValueError(
            f"--ratio {ratio} asks for {want} non-speech utts but only {len(ids)} exist "
            "(and ratio must be >= 0): build more with nonspeech_synth.py --num_utts"
        )
    return sorted(random.Random(seed).sample(sorted(ids), want))


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", type=Path, required=True)
    p.add_argument("--nonspeech", type=Path, required=True)
    p.add_argument("--ratio", type=float, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    return p


def main(cmd: Optional[Sequence[str]] = None) -> None:
    args = parse_args(get_parser(), cmd)
    n_train = len(read_map(args.train / "wav.scp"))
    try:
        picked = draw(list(read_map(args.nonspeech / "wav.scp")), n_train, args.ratio, args.seed)
    except ValueError as e:
        sys.exit(f"mix_nonspeech: {e}")
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp, "nonspeech")
        subset(args.nonspeech, sub, picked)
        n = combine(args.out, [args.train, sub])
    print(f"{args.out}: {n_train} train + {len(picked)} non-speech = {n} utts")


if __name__ == "__main__":
    main()
