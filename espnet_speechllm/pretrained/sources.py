"""Where a model's pretrained parts live: the config keys that name local paths.

A module class that reads pretrained files when it is built declares which of
its constructor arguments name them, and what they hold::

    class HFWhisperEncoder(AbsEncoder):
        pretrained_sources = {"model_name_or_path": MODEL_DIR}

so that ``config_sources`` finds ``encoder_conf.model_name_or_path`` in a
training config without a list of keys: it follows each ``ClassChoices`` slot
(``encoder: hf_whisper`` -> ``HFWhisperEncoder``) to the class's declaration.
Stage 14 (``recipe/pack_model.py``) packs every source it finds, so a packed
model rebuilds from its archive alone.
"""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

# What a source path holds, i.e. what of it loading reads.
MODEL_DIR = "model"  # an HF directory: config, weights, tokenizer
TOKENIZER_DIR = "tokenizer"  # an HF directory read for its tokenizer only
FILE = "file"  # one file
KINDS = (MODEL_DIR, TOKENIZER_DIR, FILE)

# Task arguments (no module's) that name paths.
TASK_SOURCES = {"bpemodel": TOKENIZER_DIR, "token_list": FILE}


@dataclass(frozen=True)
class Source:
    """A path a training config refers to."""

    keys: Tuple[str, ...]  # config keys, e.g. ("encoder_conf", "model_name_or_path")
    value: str  # as written in the config
    kind: str  # one of KINDS

    @property
    def key(self) -> str:
        """``encoder_conf.model_name_or_path``"""
        return ".".join(self.keys)


def class_sources(cls: type) -> Dict[str, str]:
    """``{constructor argument: kind}`` of the paths ``cls`` reads when built."""
    from espnet2.layers.global_mvn import GlobalMVN

    # ESPnet's classes cannot declare their own.
    espnet = {GlobalMVN: {"stats_file": FILE}}
    sources = getattr(cls, "pretrained_sources", None) or espnet.get(cls, {})
    for arg, kind in sources.items():
        assert kind in KINDS, (cls, arg, kind)
    return dict(sources)


def config_sources(config: dict, class_choices_list: Sequence) -> List[Source]:
    """The local-or-hub paths in ``config`` that building its model reads.

    Args:
        config: A training config (``exp/X/config.yaml``).
        class_choices_list: The task's ``ClassChoices`` (``SpeechLLMTask.class_choices_list``).
    Raises:
        ValueError: A slot names a class the task does not know.
    """
    found = []
    for choices in class_choices_list:
        cls = _slot_class(choices, config.get(choices.name, choices.default))
        conf = config.get(f"{choices.name}_conf") or {}
        for arg, kind in class_sources(cls).items() if cls else ():
            found.append(((f"{choices.name}_conf", arg), conf.get(arg), kind))
    found += [((key,), config.get(key), kind) for key, kind in TASK_SOURCES.items()]
    return [Source(k, v, kind) for k, v, kind in found if isinstance(v, str) and v]


def _slot_class(choices, name: Optional[str]) -> Optional[type]:
    if name is None or str(name).lower() in ("none", "null", "nil"):
        return None
    if str(name).lower() not in choices.classes:
        raise ValueError(f"{choices.name}={name!r}: choose from {choices.choices()}")
    return choices.classes[str(name).lower()]
