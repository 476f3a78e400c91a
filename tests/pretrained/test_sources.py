"""Pretrained sources: the config keys naming paths, found from the classes' declarations."""

import inspect

import pytest

from espnet_speechllm.pretrained.sources import (
    FILE,
    MODEL_DIR,
    TOKENIZER_DIR,
    Source,
    class_sources,
    config_sources,
)
from espnet_speechllm.tasks.speechllm import SpeechLLMTask

CHOICES = SpeechLLMTask.class_choices_list


def test_sources_of_a_whisper_llm_config():
    config = {
        "frontend": None,
        "normalize": "global_mvn",
        "normalize_conf": {"stats_file": "exp/stats/feats_stats.npz"},
        "encoder": "hf_whisper",
        "encoder_conf": {"model_name_or_path": "exp/whisper"},
        "decoder": "hf_llm",
        "decoder_conf": {"model_name_or_path": "Qwen/Qwen2.5-0.5B", "mode": "lora"},
        "bpemodel": "exp/llm",
        "token_list": ["<unk>", "a"],  # a list: no path
    }
    assert config_sources(config, CHOICES) == [
        Source(("normalize_conf", "stats_file"), "exp/stats/feats_stats.npz", FILE),
        Source(("encoder_conf", "model_name_or_path"), "exp/whisper", MODEL_DIR),
        Source(("decoder_conf", "model_name_or_path"), "Qwen/Qwen2.5-0.5B", MODEL_DIR),
        Source(("bpemodel",), "exp/llm", TOKENIZER_DIR),
    ]
    assert config_sources(config, CHOICES)[1].key == "encoder_conf.model_name_or_path"


def test_classes_without_sources_contribute_none():
    config = {
        "frontend": "none",
        "normalize": "utterance_mvn",
        "normalize_conf": {"stats_file": "ignored.npz"},  # UtteranceMVN reads no file
        "encoder": "conformer",
        "decoder_conf": {"config": {"model_type": "llama"}, "tokenizer_name_or_path": "tok"},
        "token_list": "data/tokens.txt",
    }
    assert [(s.key, s.kind) for s in config_sources(config, CHOICES)] == [
        ("decoder_conf.tokenizer_name_or_path", TOKENIZER_DIR),
        ("token_list", FILE),
    ]


def test_unknown_class_names_its_slot():
    with pytest.raises(ValueError, match=r"encoder='hf_hubert': choose from"):
        config_sources({"encoder": "hf_hubert"}, CHOICES)


def test_every_path_argument_of_the_task_classes_is_declared():
    """A class (e.g. a later HF encoder) taking a ``*_name_or_path`` or ``*_file``
    argument must declare it, or stage 14 would not pack what it reads."""
    for choices in CHOICES:
        for name, cls in choices.classes.items():
            args = inspect.signature(cls.__init__).parameters
            paths = {a for a in args if a.endswith("_name_or_path") or a.endswith("_file")}
            assert paths <= set(class_sources(cls)), (choices.name, name, paths)
