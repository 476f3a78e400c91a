"""A trained speech-LLM behind transformers' ``PreTrainedModel`` (``AutoModel``).

The model is our ``ESPnetSpeechLLMModel``, rebuilt from the ESPnet config inside the
exported directory (``SpeechLLMTask.build_model``) with its trained weights from
``model.safetensors``; the LLM comes from the plain HF directory ``llm/`` (or, for an
export that keeps LoRA, the packed base LLM). ``generate`` runs the model's public
decoding steps (``prepare_decoding``, ``decoder.generate``) exactly as
``Speech2TextLLM`` (bin/speechllm_inference.py) does, so both give the same hypotheses::

    import espnet_speechllm.export  # registers model_type "espnet_speechllm"
    model = AutoModel.from_pretrained("exp/X/hf")
    processor = AutoProcessor.from_pretrained("exp/X/hf")
    ids = model.generate(**processor(speech, sampling_rate=16000))
    text = processor.batch_decode(ids)

Decoding only: train with ESPnet (``speechllm.sh``), then export (bin/export_hf.py).
"""

import argparse
import dataclasses
import logging
import math
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from transformers import PretrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

MODEL_TYPE = "espnet_speechllm"
WEIGHTS_NAME = "model.safetensors"
# Speech2TextLLM's search defaults, passed explicitly so that an LLM's own
# generation_config.json (e.g. a repetition_penalty) cannot change the result.
SEARCH_DEFAULTS = dict(
    min_new_tokens=0, no_repeat_ngram_size=0, length_penalty=1.0, repetition_penalty=1.0
)
# What AutoModel.from_pretrained passes besides the path, which a local export ignores.
_IGNORED_KWARGS = (
    "_from_auto",
    "adapter_kwargs",
    "trust_remote_code",
    "code_revision",
    "cache_dir",
    "force_download",
    "local_files_only",
    "proxies",
    "revision",
    "subfolder",
    "token",
)


class SpeechLLMConfig(PretrainedConfig):
    """Where the ESPnet model of an export lives, and the decoding length caps.

    Args:
        espnet_config: The ESPnet training config inside the export dir, its paths
            relative to that dir.
        sampling_rate: Sampling rate of the waveform the model reads.
        max_new_tokens: Hard cap on generated tokens.
        max_tokens_per_second: Cap tied to audio length (``ceil(rate * seconds) + 4``).
        lora_merged: The LLM's LoRA adapters are merged into its weights.
    """

    model_type = MODEL_TYPE

    def __init__(
        self,
        espnet_config: str = "espnet/config.yaml",
        sampling_rate: int = 16000,
        max_new_tokens: int = 200,
        max_tokens_per_second: float = 10.0,
        lora_merged: bool = False,
        **kwargs,
    ):
        self.espnet_config = espnet_config
        self.sampling_rate = sampling_rate
        self.max_new_tokens = max_new_tokens
        self.max_tokens_per_second = max_tokens_per_second
        self.lora_merged = lora_merged
        super().__init__(**kwargs)


@dataclasses.dataclass
class SpeechLLMGenerateOutput(ModelOutput):
    """``sequences`` (B * n, L) padded with ``pad_token_id``, ``sequences_scores`` (B * n,)."""

    sequences: Optional[torch.LongTensor] = None
    sequences_scores: Optional[torch.FloatTensor] = None


class SpeechLLMForConditionalGeneration(PreTrainedModel):
    """Speech in, LLM text out: an exported ``ESPnetSpeechLLMModel`` (``self.speechllm``).

    Build it with ``from_pretrained(export_dir)``; ``generate`` decodes.
    """

    config_class = SpeechLLMConfig
    base_model_prefix = "speechllm"
    main_input_name = "input_values"

    def __init__(self, config: SpeechLLMConfig, speechllm: Optional[torch.nn.Module] = None):
        if speechllm is None:
            raise ValueError(
                f"{type(self).__name__} wraps a trained ESPnet model: load it with "
                "from_pretrained(<dir written by espnet_speechllm.bin.export_hf>)"
            )
        super().__init__(config)
        self.speechllm = speechllm
        self._min_samples: Optional[int] = None
        # NOTE: no post_init(): it runs init_weights(), which would re-initialise the
        # trained ESPnet modules (it knows no keys of ours to tie or keep in fp32).

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: Union[str, os.PathLike],
        *model_args,
        config: Optional[SpeechLLMConfig] = None,
        device_map: Optional[str] = None,
        **kwargs,
    ) -> "SpeechLLMForConditionalGeneration":
        """The model of an export dir (or a hub repo holding one).

        Args:
            pretrained_model_name_or_path: The dir ``export_hf`` wrote, or a hub id.
            config: Its ``config.json`` (default: read from the dir).
            device_map: A device (``cpu``, ``cuda``, ``cuda:0``) to put the model on.
        """
        unknown = sorted(set(kwargs) - set(_IGNORED_KWARGS)) + (
            ["*model_args"] if model_args else []
        )
        if unknown:
            raise TypeError(f"{cls.__name__}.from_pretrained: unsupported arguments {unknown}")
        root = _local_dir(str(pretrained_model_name_or_path), kwargs)
        if config is None:
            config = SpeechLLMConfig.from_pretrained(root)
        speechllm = build_speechllm(root, config.espnet_config)
        model = cls(config, speechllm=speechllm).eval()
        model.name_or_path = str(pretrained_model_name_or_path)
        return model.to(device_map) if device_map is not None else model

    def save_pretrained(self, *args, **kwargs):
        raise NotImplementedError(
            "Export from the ESPnet experiment instead: python -m espnet_speechllm.bin.export_hf "
            "--train_config exp/X/config.yaml --model_file exp/X/valid.acc.ave.pth --out_dir DIR"
        )

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f"{type(self).__name__} decodes only (generate); train with ESPnet's speechllm.sh"
        )

    @property
    def min_input_samples(self) -> int:
        """Fewest samples the frontend + encoder encode (shorter: empty hypothesis)."""
        if self._min_samples is None:
            self._min_samples = self.speechllm.min_input_samples(self.config.sampling_rate)
        return self._min_samples

    def token_cap(self, n_samples: int) -> int:
        """Most new tokens for audio of ``n_samples``: ``ceil(rate * seconds) + 4``, capped."""
        c = self.config
        rate_cap = math.ceil(c.max_tokens_per_second * n_samples / c.sampling_rate) + 4
        return min(c.max_new_tokens, rate_cap)

    @torch.no_grad()
    def generate(
        self,
        input_values: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        prompt_ids: Optional[torch.Tensor] = None,
        audio_position: Optional[torch.Tensor] = None,
        num_beams: int = 1,
        num_return_sequences: int = 1,
        return_dict_in_generate: bool = False,
        **generate_kwargs: Any,
    ) -> Union[torch.LongTensor, SpeechLLMGenerateOutput]:
        """Decode a padded batch of waveforms; each utterance as if decoded alone.

        Args:
            input_values: Waveforms (B, S), right padded (the processor's output).
            attention_mask: (B, S), 1 on samples (default: all).
            prompt_ids: The processor's ``(pre + post)`` prompt ids per utterance,
                padded with -1 (B, P); default: the model's eval prompt / chat turn.
            audio_position: (B,) where the audio goes in ``prompt_ids`` (= len(pre)).
            num_beams: 1 = greedy.
            num_return_sequences: Hypotheses per utterance (<= num_beams).
            return_dict_in_generate: Return sequences and their log scores.
            generate_kwargs: HF ``generate`` options (``min_new_tokens``,
                ``no_repeat_ngram_size``, ``length_penalty``, ``repetition_penalty``, ...).
        Returns:
            Token ids without the final eos (B * num_return_sequences, L), padded with
            ``pad_token_id``; audio shorter than the encoder takes gives an empty row.
        """
        model = self.speechllm
        param = next(model.parameters())
        speech = input_values.reshape(-1, input_values.size(-1)).to(param.device, param.dtype)
        bsz = speech.size(0)
        if attention_mask is None:
            lens = torch.full((bsz,), speech.size(1), dtype=torch.long)
        else:
            lens = attention_mask.reshape(bsz, -1).long().sum(-1).cpu()
        prompts = _prompts(prompt_ids, audio_position, bsz)
        hyps: List[List[Tuple[List[int], float]]] = [[([], 0.0)] * num_return_sequences] * bsz
        todo = [b for b in range(bsz) if int(lens[b]) >= self.min_input_samples]
        for b in sorted(set(range(bsz)) - set(todo)):
            logging.warning(f"batch index {b}: {int(lens[b])} samples, too short: empty hypothesis")
        if todo:
            sub = torch.nn.utils.rnn.pad_sequence(
                [speech[b, : lens[b]] for b in todo], batch_first=True
            )
            dec = model.prepare_decoding(
                sub,
                lens[todo].to(param.device),
                prompts=[prompts[b] for b in todo] if prompts is not None else None,
            )
            caps = [self.token_cap(int(lens[b])) for b in todo]
            self._check_context(dec.prefix_lens, caps, todo)
            kwargs = dict(SEARCH_DEFAULTS, **generate_kwargs)
            out = model.decoder.generate(
                dec.prefix,
                dec.prefix_lens,
                num_beams=num_beams,
                nbest=num_return_sequences,
                max_new_tokens=caps,
                eos=model.eos,
                **kwargs,
            )
            for j, b in enumerate(todo):
                # The compressor kept nothing (e.g. all frames CTC blank): empty, as Speech2TextLLM.
                hyps[b] = out[j] if int(dec.audio_lens[j]) > 0 else hyps[b]
        flat = [h for nbest in hyps for h in nbest]
        pad = self.config.pad_token_id
        seqs = torch.full((len(flat), max(1, max(len(ids) for ids, _ in flat))), pad)
        for i, (ids, _) in enumerate(flat):
            seqs[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        if not return_dict_in_generate:
            return seqs
        return SpeechLLMGenerateOutput(
            sequences=seqs, sequences_scores=torch.tensor([s for _, s in flat])
        )

    def _check_context(self, prefix_lens: torch.Tensor, caps: List[int], todo: List[int]) -> None:
        context = self.speechllm.decoder.context_length
        for j, b in enumerate(todo):
            if context is not None and int(prefix_lens[j]) + caps[j] > context:
                raise ValueError(
                    f"batch index {b}: prompt + audio ({int(prefix_lens[j])} positions) + "
                    f"{caps[j]} new tokens exceed the LLM context of {context}"
                )


def build_speechllm(root: Union[str, Path], espnet_config: str) -> torch.nn.Module:
    """The ESPnet model of an export dir: config paths resolved there, weights loaded."""
    import yaml
    from safetensors.torch import load_file

    from espnet_speechllm.pretrained.sources import config_sources
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    root = Path(root)
    path = root / espnet_config
    if not path.is_file():
        raise FileNotFoundError(f"{root}: no {espnet_config} (not a dir written by export_hf)")
    with open(path, encoding="utf-8") as f:
        conf = yaml.safe_load(f)
    # Packed pretrained parts (llm/, a Whisper dir, a stats file) are relative to the export.
    for src in config_sources(conf, SpeechLLMTask.class_choices_list):
        if not os.path.isabs(src.value) and (root / src.value).exists():
            node = conf
            for key in src.keys[:-1]:
                node = node[key]
            node[src.keys[-1]] = str(root / src.value)
    model = SpeechLLMTask.build_model(argparse.Namespace(**conf))
    model.load_state_dict(load_file(str(root / WEIGHTS_NAME)), strict=True)
    return model.eval()


def _prompts(
    prompt_ids: Optional[torch.Tensor], audio_position: Optional[torch.Tensor], bsz: int
) -> Optional[List[Tuple[List[int], List[int]]]]:
    """``(pre_ids, post_ids)`` per utterance from the processor's tensors (None: default)."""
    if prompt_ids is None:
        return None
    if audio_position is None or len(prompt_ids) != bsz or len(audio_position) != bsz:
        raise ValueError(
            f"prompt_ids needs audio_position, one row each per utterance ({bsz}); got "
            f"{len(prompt_ids)} prompt rows and audio_position={audio_position}"
        )
    out = []
    for row, pos in zip(prompt_ids.tolist(), audio_position.tolist()):
        ids = [i for i in row if i >= 0]
        out.append((ids[:pos], ids[pos:]))
    return out


def _local_dir(name: str, hub_kwargs: Dict[str, Any]) -> str:
    """``name`` if it is a directory, else the local snapshot of that hub repo."""
    if os.path.isdir(name):
        return name
    from huggingface_hub import snapshot_download

    keys = ("cache_dir", "local_files_only", "revision", "token", "force_download")
    return snapshot_download(name, **{k: hub_kwargs[k] for k in keys if k in hub_kwargs})
