"""A tiny chat LLM setup for tests: the tiny BPE with ChatML's special tokens and template."""

from pathlib import Path

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
