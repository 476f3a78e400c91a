"""Shared fixtures: a tiny tokenizer + LLM built offline, mini_an4 as Kaldi dirs."""

import csv
import os
from pathlib import Path

import pytest

from tiny import TINY_LLAMA, TINY_WHISPER

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parents[1]
MINI_AN4 = Path(os.environ.get("MINI_AN4", ROOT.parent / "shared" / "data" / "mini_an4"))



def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long test, skipped unless --runslow")


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: use --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def mini_an4_rows():
    with open(MINI_AN4 / "utterances.tsv", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="session")
def mini_an4() -> Path:
    if not (MINI_AN4 / "utterances.tsv").exists():
        pytest.skip(f"mini_an4 not found at {MINI_AN4}")
    return MINI_AN4


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory, mini_an4) -> Path:
    """A 320-token byte-level BPE trained on the mini_an4 transcripts."""
    from espnet_speechllm.llm.train_tokenizer import export_token_list, train_tokenizer

    out = tmp_path_factory.mktemp("tok")
    texts = [r["text"] for r in mini_an4_rows()] * 4 + ["TRANSCRIBE THE AUDIO"]
    train_tokenizer(texts, TINY_LLAMA["vocab_size"], str(out))
    export_token_list(str(out), str(out / "tokens.txt"))
    return out


@pytest.fixture(scope="session")
def tiny_llm(tmp_path_factory, tiny_tokenizer) -> Path:
    """A random 2-layer Llama + its tokenizer saved as a local HF directory."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    cfg = dict(TINY_LLAMA)
    config = AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    out = tmp_path_factory.mktemp("llm")
    AutoModelForCausalLM.from_config(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_tokenizer).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def an4_dirs(tmp_path_factory, mini_an4) -> Path:
    """Kaldi dirs data/{train,test} (wav.scp, text) over mini_an4's wavs."""
    root = tmp_path_factory.mktemp("an4data")
    rows = mini_an4_rows()
    for split in ("train", "test"):
        d = root / split
        d.mkdir()
        sel = sorted((r for r in rows if r["split"] == split), key=lambda r: r["utt_id"])
        (d / "wav.scp").write_text(
            "".join(f"{r['utt_id']} {mini_an4 / r['wav']}\n" for r in sel)
        )
        (d / "text").write_text("".join(f"{r['utt_id']} {r['text']}\n" for r in sel))
    return root


@pytest.fixture(scope="session")
def trained_exp(tmp_path_factory, tiny_tokenizer, an4_dirs) -> Path:
    """collect_stats + 2 epochs of training on mini_an4's 5 train utterances."""
    import yaml

    from espnet_speechllm.tasks.speechllm import SpeechLLMTask
    from tiny import collect_stats_cmd, tiny_train_config, train_cmd

    root = tmp_path_factory.mktemp("exp")
    config = root / "train.yaml"
    config.write_text(yaml.safe_dump(tiny_train_config(tiny_tokenizer)))
    SpeechLLMTask.main(cmd=collect_stats_cmd(config, an4_dirs, root / "stats"))
    SpeechLLMTask.main(cmd=train_cmd(config, an4_dirs, root / "train", root / "stats"))
    return root / "train"


CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant:{% endif %}"
)


@pytest.fixture(scope="session")
def chat_llm(tmp_path_factory, tiny_llm) -> Path:
    """The tiny random Llama (tests/conftest.py) with a chat template on its tokenizer."""
    import shutil

    from transformers import AutoTokenizer

    out = tmp_path_factory.mktemp("chat_llm")
    shutil.copytree(tiny_llm, out, dirs_exist_ok=True)
    tok = AutoTokenizer.from_pretrained(out)
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_whisper_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """A random 2-layer Whisper (1 s window) with the tiny BPE tokenizer, saved as an HF dir."""
    import torch
    from transformers import (
        AutoTokenizer,
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
    )

    torch.manual_seed(0)
    cfg = dict(TINY_WHISPER, vocab_size=320, pad_token_id=0, decoder_start_token_id=1)
    out = tmp_path_factory.mktemp("whisper")
    WhisperForConditionalGeneration(WhisperConfig(**cfg)).save_pretrained(out)
    WhisperFeatureExtractor(feature_size=80, chunk_length=1).save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_tokenizer).save_pretrained(out)
    return out


@pytest.fixture
def native_bf16(monkeypatch):
    """``native_bf16(flag)``: pretend this CPU has (or lacks) native bf16 / fp16 kernels."""
    from espnet_speechllm.utils import low_precision

    def pretend(flag: bool) -> None:
        low_precision.native_on.cache_clear()
        monkeypatch.setattr(low_precision, "cpu_has_native", lambda dtype: flag)

    yield pretend
    low_precision.native_on.cache_clear()
