"""Write a trained speech-LLM as a directory that transformers loads (no remote code).

::

    exp/X/hf/
      config.json                 SpeechLLMConfig (model_type "espnet_speechllm")
      model.safetensors           the trained weights of ESPnetSpeechLLMModel, LLM left out
      espnet/config.yaml          the ESPnet training config, paths relative to exp/X/hf
      llm/                        the LLM alone, LoRA merged: AutoModelForCausalLM + tokenizer
      processor_config.json, tokenizer files    SpeechLLMProcessor (AutoProcessor)
      exp/..., data/...           other pretrained parts the config needs (a Whisper dir,
                                  a stats file, the base LLM of an unmerged LoRA export)
      README.md                   model card: load commands + RESULTS.md

The ESPnet model is rebuilt from ``espnet/config.yaml`` with its LLM (decoder) turned
into ``mode: frozen`` over ``llm/`` (the trained LLM, LoRA merged), so the LLM is stored
once. With ``merge_lora=False`` a LoRA model keeps its adapters instead: the decoder
stays ``mode: lora`` over the packed base LLM, the adapters in ``model.safetensors``.
Pretrained parts are packed as stage 14 packs them (``recipe/pack_model.stage_sources``).
"""

import inspect
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Union

import yaml

from espnet_speechllm.export.hf_modeling import (
    MODEL_TYPE,
    WEIGHTS_NAME,
    SpeechLLMConfig,
    SpeechLLMForConditionalGeneration,
)
from espnet_speechllm.export.hf_processing import (
    PROMPT_KEYS,
    SpeechLLMFeatureExtractor,
    SpeechLLMProcessor,
)

LLM_DIR = "llm"
ESPNET_CONFIG = "espnet/config.yaml"
# decoder_conf keys that name or build the LLM: replaced by llm/ (frozen) in an export.
_LLM_KEYS = ("model_name_or_path", "config", "random_init", "lora_conf")

PathLike = Union[str, Path]


class ExportError(ValueError):
    """The model cannot be exported (unsupported decoder, an unknown output dir)."""


def export_hf(
    train_config: PathLike,
    model_file: PathLike,
    out_dir: PathLike,
    merge_lora: bool = False,
    readme: Optional[PathLike] = None,
) -> Path:
    """Write the export dir of a trained model (replacing an earlier export there).

    Relative paths in the config are read from the current directory, as in training.

    Args:
        train_config: ``exp/X/config.yaml``.
        model_file: ``exp/X/valid.acc.ave.pth``.
        out_dir: The directory to write (e.g. ``exp/X/hf``).
        merge_lora: Merge the LLM's LoRA adapters into it (else keep them).
        readme: RESULTS.md for the model card (default: the one next to train_config).
    """
    from safetensors.torch import save_file

    from espnet_speechllm.asr.decoder.hf_llm_decoder import HFLLMDecoder
    from espnet_speechllm.recipe.pack_model import stage_sources
    from espnet_speechllm.tasks.speechllm import SpeechLLMTask

    out = Path(out_dir)
    _check_out_dir(out)
    readme_path = Path(readme) if readme else Path(train_config).parent / "RESULTS.md"
    if readme and not readme_path.is_file():
        raise ExportError(f"--readme {readme}: no such file")
    with open(train_config, encoding="utf-8") as f:
        config = yaml.safe_load(f)
    model, _ = SpeechLLMTask.build_model_from_file(train_config, model_file, "cpu")
    decoder = model.decoder
    if not isinstance(decoder, HFLLMDecoder):
        raise ExportError(f"decoder: {type(decoder).__name__} is not exportable (only hf_llm)")
    dconf = dict(config.get("decoder_conf") or {})
    keep_lora = decoder.mode == "lora" and not merge_lora
    if keep_lora and dconf.get("model_name_or_path") is None:
        raise ExportError(
            "decoder_conf.mode=lora over a randomly initialised LLM (decoder_conf.config): "
            "its base is in no file; export with merge_lora"
        )
    # Trained weights; the LLM's go to llm/ unless LoRA stays. Clones: no shared tensors.
    state = {
        k: v.detach().clone().contiguous()
        for k, v in model.state_dict().items()
        if keep_lora or not k.startswith("decoder.")
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}_", dir=out.parent))
    try:
        # In place: the model is not used afterwards (the adapters are in `state`).
        llm = decoder.llm.merge_and_unload() if decoder.mode == "lora" else decoder.llm
        llm.save_pretrained(tmp / LLM_DIR)
        decoder.tokenizer.save_pretrained(tmp / LLM_DIR)

        dconf.pop("tokenizer_name_or_path", None)
        dconf.pop("gradient_checkpointing", None)
        if not keep_lora:
            for key in _LLM_KEYS:
                dconf.pop(key, None)
            dconf["mode"] = "frozen"
        config.update(decoder_conf=dconf, bpemodel=None, token_list=list(model.token_list))
        stage_sources(config, tmp, None)  # the base LLM of kept LoRA, Whisper, stats files
        if not keep_lora:
            dconf["model_name_or_path"] = LLM_DIR
        dconf["tokenizer_name_or_path"] = LLM_DIR
        config["bpemodel"] = LLM_DIR
        (tmp / ESPNET_CONFIG).parent.mkdir(parents=True)
        with open(tmp / ESPNET_CONFIG, "w", encoding="utf-8") as f:
            yaml.safe_dump(config, f, indent=4, sort_keys=False, allow_unicode=True)
        save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt"})

        fs = int((config.get("frontend_conf") or {}).get("fs", 16000))
        SpeechLLMConfig(
            espnet_config=ESPNET_CONFIG,
            sampling_rate=fs,
            lora_merged=decoder.mode == "lora" and merge_lora,
            eos_token_id=model.eos,
            pad_token_id=decoder.eos,
            architectures=[SpeechLLMForConditionalGeneration.__name__],
        ).save_pretrained(tmp)
        SpeechLLMProcessor(
            SpeechLLMFeatureExtractor(sampling_rate=fs),
            decoder.tokenizer,
            prompt_conf=_prompt_conf(config.get("model_conf") or {}),
        ).save_pretrained(tmp)
        results = readme_path.read_text(encoding="utf-8") if readme_path.is_file() else None
        tag = Path(train_config).resolve().parent.name
        (tmp / "README.md").write_text(model_card(tag, str(out), results), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logging.info(f"export_hf: wrote {out}")
    return out


def _check_out_dir(out: Path) -> None:
    """Refuse to replace a non-empty directory that is not an earlier export."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    try:
        ours = SpeechLLMConfig.get_config_dict(str(out))[0].get("model_type") == MODEL_TYPE
    except (OSError, ValueError):
        ours = False
    if not ours:
        raise ExportError(
            f"--out_dir {out} exists and holds no earlier export (config.json with "
            f"model_type {MODEL_TYPE!r}): not replacing it; choose another dir"
        )


def _prompt_conf(model_conf: dict) -> dict:
    """The prompt keys of model_conf, with ESPnetSpeechLLMModel's defaults filled in."""
    from espnet_speechllm.asr.espnet_model import ESPnetSpeechLLMModel

    params = inspect.signature(ESPnetSpeechLLMModel.__init__).parameters
    return {k: model_conf.get(k, params[k].default) for k in PROMPT_KEYS}


def model_card(tag: str, path: str, results: Optional[str]) -> str:
    """README.md of the export: how to load it, and the results (RESULTS.md)."""
    lines = [
        "---",
        "library_name: transformers",
        "tags:",
        "- espnet",
        "- espnet_speechllm",
        "- audio",
        "- automatic-speech-recognition",
        "---",
        "",
        f"# {tag}",
        "",
        "A speech-LLM trained with espnet_speechllm, an ESPnet2 plugin (speech encoder -> "
        "compressor -> projector -> causal LLM), exported for transformers: model_type "
        f"`{MODEL_TYPE}`, weights in safetensors. No remote code: `pip install "
        "espnet_speechllm` and import it, which registers the classes with the Auto* API.",
        "",
        "```python",
        "import soundfile",
        "import espnet_speechllm.export  # registers model_type espnet_speechllm",
        "from transformers import AutoModel, AutoProcessor",
        "",
        f'model = AutoModel.from_pretrained("{path}")',
        f'processor = AutoProcessor.from_pretrained("{path}")',
        'speech, fs = soundfile.read("utt.wav", dtype="float32")  # mono',
        "inputs = processor(speech, sampling_rate=fs)",
        "print(processor.batch_decode(model.generate(**inputs))[0])",
        "# beam search: model.generate(**inputs, num_beams=4)",
        "```",
        "",
        "`generate` gives the hypotheses of `espnet_speechllm.bin.speechllm_inference` "
        "(same defaults). The LLM alone, its LoRA adapters merged, is a plain causal LM:",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        f'llm = AutoModelForCausalLM.from_pretrained("{path}/{LLM_DIR}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{path}/{LLM_DIR}")',
        "```",
        "",
        f"`{ESPNET_CONFIG}` is the ESPnet training config the model is rebuilt from.",
        "",
    ]
    if results:
        lines += ["## Results", "", results]
    return "\n".join(lines) + "\n"
