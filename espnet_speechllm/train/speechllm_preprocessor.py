"""SpeechLLMPreprocessor: ESPnet's preprocessing + source text + per-utterance string fields.

- ``text`` and ``src_text`` (the source transcript of speech translation, for CTC) are
  tokenized with the LLM tokenizer (``CommonPreprocessor_multi``).
- String fields such as ``lang`` (an ``utt2lang`` file: ``utt German``), ``instruction``
  and ``history`` (the chat layout's) must reach the model, which fills them into prompts
  (``"Translate the {lang} audio into English."``, asr/chat_layout.py),
  but ESPnet's collate only stacks arrays. They travel as their Unicode code points,
  padded with -1 by the collate, and ``decode_field`` turns them back into strings.
- A non-speech utterance's ``text`` is the marker ``<nospeech>``
  (``espnet_speechllm.utils.nonspeech``), which becomes zero tokens: its target is eos.
"""

from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from typeguard import typechecked

from espnet2.train.preprocessor import CommonPreprocessor_multi
from espnet_speechllm.utils.nonspeech import is_nonspeech

TEXT_NAMES = ("text", "src_text")
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


class SpeechLLMPreprocessor(CommonPreprocessor_multi):
    """``CommonPreprocessor_multi`` over ``text_name`` + code points for ``field_names``.

    Args:
        train: Training mode (noise / RIR augmentation).
        text_name: Data names tokenized with the LLM tokenizer.
        field_names: Data names carried as strings (code points).
        empty_nonspeech: Map a ``<nospeech>`` text to zero tokens.
        kwargs: ``CommonPreprocessor_multi`` arguments.
    """

    @typechecked
    def __init__(
        self,
        train: bool,
        text_name: Sequence[str] = TEXT_NAMES,
        field_names: Sequence[str] = FIELD_NAMES,
        empty_nonspeech: bool = True,
        **kwargs,
    ):
        super().__init__(train, text_name=list(text_name), **kwargs)
        self.field_names = tuple(field_names)
        # ESPnet's noise / RIR augmentation returns mono speech as (T, 1); the model
        # reads (T,). CommonPreprocessor's own switch averages channels back to (T,).
        self.force_single_channel = True
        self.empty_names = tuple(text_name) if empty_nonspeech else ()

    def __call__(
        self, uid: str, data: Dict[str, Union[str, np.ndarray]]
    ) -> Dict[str, np.ndarray]:
        for name in self.field_names:
            if name in data and isinstance(data[name], str):
                if not data[name].strip():
                    raise ValueError(f"utterance {uid}: empty '{name}' field")
                data[name] = encode_field(data[name])
        for name in self.empty_names:  # non-speech: the tokenizer then gives []
            if isinstance(data.get(name), str) and is_nonspeech(data[name]):
                data[name] = ""
        return super().__call__(uid, data)


def fields_of(kwargs: Dict, names: Sequence[str] = FIELD_NAMES) -> Optional[List[Dict[str, str]]]:
    """Per-utterance ``{name: value}`` from a forward()'s kwargs; None if none given."""
    present = [n for n in names if kwargs.get(n) is not None]
    if not present:
        return None
    cols = {n: decode_field(kwargs[n], kwargs[f"{n}_lengths"]) for n in present}
    bsz = len(next(iter(cols.values())))
    return [{n: cols[n][b] for n in present} for b in range(bsz)]
