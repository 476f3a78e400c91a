"""SpeechLLMPreprocessor: ESPnet's preprocessing + source text + per-utterance string fields.

- ``text`` and ``src_text`` (the source transcript of speech translation, for CTC) are
  tokenized with the LLM tokenizer (``CommonPreprocessor_multi``).
- String fields such as ``lang``, ``instruction`` and ``history`` are encoded as code
  points for the collate (``asr/prompt_fields.py``); the model decodes them into its
  prompts (``asr/prompt_template.py``, ``asr/chat_layout.py``).
- A non-speech utterance's ``text`` is the marker ``<nospeech>``
  (``espnet_speechllm.utils.nonspeech``), which becomes zero tokens: its target is eos.
- In training, ``speech_pad_range`` pads a share of the utterances with room-like silence
  (``train/silence_pad.py``) before ESPnet's noise / RIR augmentation.
"""

from typing import Dict, Optional, Sequence, Union

import numpy as np
from typeguard import typechecked

from espnet2.train.preprocessor import CommonPreprocessor_multi
from espnet_speechllm.asr.prompt_fields import FIELD_NAMES, encode_field
from espnet_speechllm.train.silence_pad import pad_with_silence, parse_pad_range
from espnet_speechllm.utils.nonspeech import is_nonspeech

TEXT_NAMES = ("text", "src_text")


class SpeechLLMPreprocessor(CommonPreprocessor_multi):
    """``CommonPreprocessor_multi`` over ``text_name`` + code points for ``field_names``.

    Args:
        train: Training mode (noise / RIR augmentation).
        text_name: Data names tokenized with the LLM tokenizer.
        field_names: Data names carried as strings (code points).
        empty_nonspeech: Map a ``<nospeech>`` text to zero tokens.
        speech_pad_range: ``"<min>_<max>"`` seconds of silence added before and after the
            speech (each drawn uniformly) in training; None: no padding.
        speech_pad_apply_prob: The share of training utterances padded.
        fs: Sample rate of the speech (Hz), for ``speech_pad_range``.
        kwargs: ``CommonPreprocessor_multi`` arguments.
    """

    @typechecked
    def __init__(
        self,
        train: bool,
        text_name: Sequence[str] = TEXT_NAMES,
        field_names: Sequence[str] = FIELD_NAMES,
        empty_nonspeech: bool = True,
        speech_pad_range: Optional[str] = None,
        speech_pad_apply_prob: float = 1.0,
        fs: int = 16000,
        **kwargs,
    ):
        super().__init__(train, text_name=list(text_name), fs=fs, **kwargs)
        self.pad_range = parse_pad_range(speech_pad_range) if speech_pad_range else None
        self.pad_apply_prob = speech_pad_apply_prob
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
        speech = data.get(self.speech_name)
        if self.train and self.pad_range and isinstance(speech, np.ndarray) and self.pad_apply_prob >= np.random.random():
            data[self.speech_name] = pad_with_silence(speech, self.fs, *self.pad_range)
        return super().__call__(uid, data)
