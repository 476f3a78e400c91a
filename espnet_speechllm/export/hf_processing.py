"""The processor of an exported speech-LLM: waveform batch + prompt ids in, text out.

The model's frontend (STFT/fbank, or Whisper's log-mel) runs inside the model, so the
feature extractor only checks the sampling rate and pads raw waveforms. The processor
adds the prompt around the audio, rendered by the classes the model trained with
(``PromptTemplate``, or ``ChatLayout`` for ``model_conf.chat_layout``), and decodes::

    inputs = processor([wav1, wav2], sampling_rate=16000)   # input_values, attention_mask,
                                                            # prompt_ids, audio_position
    processor(wav, sampling_rate=16000, text="Translate to German:")  # another prompt /
                                                            # a chat model's instruction
    processor.batch_decode(model.generate(**inputs))
"""

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from transformers import BatchFeature, ProcessorMixin, SequenceFeatureExtractor

from espnet_speechllm.asr.chat_layout import build_chat_layout
from espnet_speechllm.asr.prompt_template import PromptTemplate
from espnet_speechllm.utils.kaldi_io import one_line

# model_conf keys that decide the prompt (ESPnetSpeechLLMModel's arguments).
PROMPT_KEYS = (
    "prompt",
    "eval_prompt",
    "prompt_template",
    "use_chat_template",
    "chat_layout",
    "system_prompt",
    "instruction",
    "instruction_position",
)

Audio = Union[np.ndarray, torch.Tensor, Sequence[float]]


class SpeechLLMFeatureExtractor(SequenceFeatureExtractor):
    """Raw mono waveforms, right padded with zeros: ``input_values`` (B, S) + ``attention_mask``.

    Args:
        sampling_rate: The rate the model's frontend expects; other rates are refused.
    """

    model_input_names = ["input_values", "attention_mask"]

    def __init__(
        self,
        feature_size: int = 1,
        sampling_rate: int = 16000,
        padding_value: float = 0.0,
        **kwargs,
    ):
        super().__init__(
            feature_size=feature_size,
            sampling_rate=sampling_rate,
            padding_value=padding_value,
            **kwargs,
        )

    def __call__(
        self,
        raw_speech: Union[Audio, List[Audio]],
        sampling_rate: Optional[int] = None,
        return_tensors: str = "pt",
        **kwargs,
    ) -> BatchFeature:
        if sampling_rate is None:
            raise ValueError(f"Give sampling_rate (the model reads {self.sampling_rate} Hz audio)")
        if int(sampling_rate) != self.sampling_rate:
            raise ValueError(
                f"sampling_rate={sampling_rate}: the model reads {self.sampling_rate} Hz audio; "
                "resample first"
            )
        wavs = [_waveform(w, i) for i, w in enumerate(_as_list(raw_speech))]
        return self.pad(
            BatchFeature({"input_values": wavs}),
            padding="longest",
            return_attention_mask=True,
            return_tensors=return_tensors,
        )


class SpeechLLMProcessor(ProcessorMixin):
    """Feature extractor + the LLM's tokenizer + the model's prompt layout.

    Args:
        feature_extractor: ``SpeechLLMFeatureExtractor``.
        tokenizer: The LLM's tokenizer.
        prompt_conf: The model's ``model_conf`` prompt keys (``PROMPT_KEYS``).
    """

    def __init__(self, feature_extractor, tokenizer, prompt_conf: Optional[Dict[str, Any]] = None):
        super().__init__(feature_extractor, tokenizer)
        self.prompt_conf = dict(prompt_conf or {})
        unknown = sorted(set(self.prompt_conf) - set(PROMPT_KEYS))
        if unknown:
            raise ValueError(f"prompt_conf: unknown keys {unknown}; known: {list(PROMPT_KEYS)}")
        self._builders()  # a bad prompt_conf fails here, not at the first call

    def _builders(self) -> Tuple[Optional[Any], PromptTemplate]:
        """The chat layout (None without one) and the prompt template, as the model builds them.

        Built per call, not stored: ProcessorMixin deep-copies attributes when saving.
        """
        c, tok = self.prompt_conf, self.tokenizer
        layout = build_chat_layout(
            tok,
            bool(c.get("chat_layout", False)),
            c.get("system_prompt"),
            c.get("instruction"),
            c.get("instruction_position", "before"),
        )
        prompt = c.get("prompt", "Transcribe the audio:")
        template = PromptTemplate(
            tok,
            [prompt] if isinstance(prompt, str) else list(prompt),
            eval_prompt=c.get("eval_prompt"),
            template=c.get("prompt_template", "{prompt}{audio}"),
            use_chat_template=bool(c.get("use_chat_template", False)),
        )
        return layout, template

    def __call__(
        self,
        audio: Union[Audio, List[Audio]],
        sampling_rate: Optional[int] = None,
        text: Union[str, Sequence[str], None] = None,
        return_tensors: str = "pt",
        **kwargs,
    ) -> BatchFeature:
        """Waveforms and prompts of a batch.

        Args:
            audio: One waveform (S,) or a list of them.
            sampling_rate: Must be the model's.
            text: The prompt (``model_conf.prompt`` models) or the instruction (chat-layout
                models) for all utterances or one per utterance; default: the eval prompt /
                ``model_conf.instruction``, as ``Speech2TextLLM`` decodes.
        Returns:
            ``input_values`` (B, S), ``attention_mask`` (B, S), ``prompt_ids`` (B, P) padded
            with -1 and ``audio_position`` (B,), where the audio goes in ``prompt_ids``.
        """
        feats = self.feature_extractor(
            audio, sampling_rate=sampling_rate, return_tensors=return_tensors
        )
        n = len(feats["input_values"])
        texts = [text] * n if isinstance(text, str) else text
        if texts is not None and len(texts) != n:
            raise ValueError(f"{len(texts)} texts for {n} utterances")
        pre_post = self.prompt_ids(n, texts)
        rows = [torch.tensor(pre + post, dtype=torch.long) for pre, post in pre_post]
        feats["prompt_ids"] = torch.nn.utils.rnn.pad_sequence(
            rows, batch_first=True, padding_value=-1
        )
        feats["audio_position"] = torch.tensor([len(pre) for pre, _ in pre_post])
        return feats

    def prompt_ids(
        self, n: int, texts: Optional[Sequence[str]] = None
    ) -> List[Tuple[List[int], List[int]]]:
        """``(pre_ids, post_ids)`` around the audio of ``n`` utterances."""
        layout, template = self._builders()
        if layout is not None:
            fields = [{"instruction": t} for t in texts] if texts is not None else None
            return layout.batch_audio_ids(n, fields)
        prompts = texts if texts is not None else [template.eval_prompt] * n
        return [template.ids(p) for p in prompts]

    def batch_decode(self, sequences, skip_special_tokens: bool = True, **kwargs) -> List[str]:
        """Texts of ``generate``'s ids (special tokens, i.e. the padding, skipped), each on one
        line as ``Speech2TextLLM`` writes it (``one_line``)."""
        texts = self.tokenizer.batch_decode(
            sequences, skip_special_tokens=skip_special_tokens, **kwargs
        )
        return [one_line(t) for t in texts]

    def decode(self, ids, skip_special_tokens: bool = True, **kwargs) -> str:
        return one_line(self.tokenizer.decode(ids, skip_special_tokens=skip_special_tokens, **kwargs))

    @property
    def model_input_names(self) -> List[str]:
        return ["input_values", "attention_mask", "prompt_ids", "audio_position"]


def _as_list(raw: Union[Audio, List[Audio]]) -> List[Audio]:
    if isinstance(raw, (np.ndarray, torch.Tensor)):
        return [raw] if raw.ndim == 1 else list(raw)
    if len(raw) and isinstance(raw[0], (np.ndarray, torch.Tensor, list, tuple)):
        return list(raw)
    return [raw]


def _waveform(wav: Audio, index: int) -> np.ndarray:
    """One utterance as float32 (S,); ValueError naming its batch index otherwise."""
    if isinstance(wav, torch.Tensor):
        wav = wav.detach().cpu().numpy()
    wav = np.asarray(wav, dtype=np.float32)
    if wav.ndim != 1:
        raise ValueError(f"audio {index}: a mono waveform (S,) is needed, got shape {wav.shape}")
    return wav
