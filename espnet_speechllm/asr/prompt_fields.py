"""Per-utterance string fields of the prompts, carried through ESPnet's collate.

String fields such as ``lang`` (an ``utt2lang`` file: ``utt German``) must reach the
model, which fills them into prompts (``"Translate the {lang} audio into English."``),
but ESPnet's collate only stacks arrays. They travel as their Unicode code points
(``encode_field``, in the preprocessor), padded with -1 by the collate, and the model
turns them back into strings (``fields_of``).
"""

from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

# lang: utt2lang for {lang} prompts; instruction (``utt text``) and history (``utt`` + a
# JSON list of {"role", "content"} turns): the chat layout's fields (asr/chat_layout.py).
FIELD_NAMES = ("lang", "instruction", "history")


def encode_field(value: str) -> np.ndarray:
    """``"de" -> array([100, 101])``: a string as int64 code points.  (L,)"""
    return np.array([ord(c) for c in value.strip()], dtype=np.int64)


def decode_field(codes: torch.Tensor, lengths: torch.Tensor) -> List[str]:
    """Inverse of ``encode_field`` on a padded batch.  (B, L), (B,) -> B strings"""
    return [
        "".join(chr(c) for c in row[:n].tolist())
        for row, n in zip(codes, lengths.tolist())
    ]


def fields_of(kwargs: Dict, names: Sequence[str] = FIELD_NAMES) -> Optional[List[Dict[str, str]]]:
    """Per-utterance ``{name: value}`` from a forward()'s kwargs; None if none given."""
    present = [n for n in names if kwargs.get(n) is not None]
    if not present:
        return None
    cols = {n: decode_field(kwargs[n], kwargs[f"{n}_lengths"]) for n in present}
    bsz = len(next(iter(cols.values())))
    return [{n: cols[n][b] for n in present} for b in range(bsz)]
