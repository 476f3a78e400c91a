"""A tiny chat LLM setup for tests: the tiny BPE with ChatML's special tokens and template."""

import json
from pathlib import Path

import pytest
import yaml

from tiny import TINY_LLAMA, tiny_train_config

# SmolLM2-Instruct's template (ChatML with a default system turn).
CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CHAT_VOCAB = TINY_LLAMA["vocab_size"] + 2  # + <|im_start|>, <|im_end|>


def save_chatml_tokenizer(tiny_tokenizer: Path, out: Path) -> Path:
    """The tiny tokenizer + ChatML (its eos stays ``</s>``-like: eot != eos) + tokens.txt."""
    from transformers import AutoTokenizer

    from espnet_speechllm.llm.train_tokenizer import export_token_list

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer))
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tok.chat_template = CHATML
    tok.save_pretrained(out)
    export_token_list(str(out), str(out / "tokens.txt"))
    assert len(tok) == CHAT_VOCAB
    return out


def chat_train_config(chat_tokenizer: Path, mode: str = "frozen", **model_conf) -> dict:
    """``tiny_train_config`` with a random frozen (or LoRA) chat LLM and the chat layout."""
    conf = tiny_train_config(
        chat_tokenizer,
        mode=mode,
        # A wider init than HF's 0.02: a random LLM whose predictions are not uniform.
        config=dict(TINY_LLAMA, vocab_size=CHAT_VOCAB, initializer_range=0.5),
        lora_conf=dict(r=4, lora_alpha=8, init_lora_weights=False),
    )
    conf["model_conf"] = dict(dict(chat_layout=True, ctc_weight=0.3), **model_conf)
    return conf


def save_stand_ins(out: Path, tiny_llm: Path, chat_template: str) -> Path:
    """Stand-ins for Whisper tiny.en (``out/whisper``, random) and SmolLM2 (``out/llm``: the
    tiny LLM with ``chat_template``), and ``out/tokens.txt``."""
    import shutil

    import torch
    from transformers import AutoTokenizer, WhisperConfig, WhisperForConditionalGeneration

    from tiny import TINY_WHISPER

    torch.manual_seed(0)
    WhisperForConditionalGeneration(WhisperConfig(**TINY_WHISPER)).save_pretrained(out / "whisper")
    shutil.copytree(tiny_llm, out / "llm")
    tok = AutoTokenizer.from_pretrained(out / "llm")
    tok.chat_template = chat_template
    tok.save_pretrained(out / "llm")
    tokens = tok.convert_ids_to_tokens(list(range(len(tok))))
    (out / "tokens.txt").write_text("".join(t + "\n" for t in tokens))
    return out


# The tiny chat-layout system of tests/bin (trained once per test module).
HISTORY = [{"role": "user", "content": "HELLO"}, {"role": "assistant", "content": "HI THERE"}]


def _kaldi(path, rows):
    path.write_text("".join(f"{k} {v}\n" for k, v in rows))
    return path


@pytest.fixture(scope="module")
def chat_data(tmp_path_factory, an4_dirs):
    """data/{train,test}: wav.scp, response (the target), text (the transcript), history,
    instruction."""
    root = tmp_path_factory.mktemp("chat_data")
    for split in ("train", "test"):
        d = root / split
        d.mkdir()
        (d / "wav.scp").write_text((an4_dirs / split / "wav.scp").read_text())
        rows = [line.split(" ", 1) for line in (an4_dirs / split / "text").read_text().splitlines()]
        _kaldi(d / "text", rows)
        # A response unlike the transcript: the teacher and the student read different inputs.
        _kaldi(d / "response", [(k, " ".join(reversed(v.split()))) for k, v in rows])
        _kaldi(d / "history", [(k, json.dumps(HISTORY)) for k, _ in rows])
        _kaldi(d / "instruction", [(k, "ANSWER THE QUESTION") for k, _ in rows])
    return root


def _data_args(data, split, name):
    d = data / name
    return [
        f"--{split}_data_path_and_name_and_type", f"{d}/wav.scp,speech,sound",
        f"--{split}_data_path_and_name_and_type", f"{d}/response,text,text",
        f"--{split}_data_path_and_name_and_type", f"{d}/text,src_text,text",
        f"--{split}_data_path_and_name_and_type", f"{d}/history,history,text",
        f"--{split}_shape_file", f"{d}/wav.scp",  # unsorted batches: keys only
    ]  # fmt: skip


@pytest.fixture(scope="module")
def chat_exp(tmp_path_factory, tiny_tokenizer, chat_data):
    from espnet_speechllm.bin.speechllm_train import main as train_main

    root = tmp_path_factory.mktemp("chat_exp")
    tok = save_chatml_tokenizer(tiny_tokenizer, root / "tok")
    conf = chat_train_config(tok, "lora", distill_weight=0.5, instruction="TRANSCRIBE:")
    conf.update(batch_type="unsorted", max_epoch=1, num_iters_per_epoch=2)
    (root / "train.yaml").write_text(yaml.safe_dump(conf))
    out = root / "exp"
    train_main(
        ["--config", str(root / "train.yaml"), "--output_dir", str(out), "--ngpu", "0",
         "--use_matplotlib", "false", *_data_args(chat_data, "train", "train"),
         *_data_args(chat_data, "valid", "test")]  # fmt: skip
    )
    return out


