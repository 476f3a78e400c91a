"""Shapes of the benchmark models, built on the meta device (no memory, no weights)."""

import pytest
import torch

from bench import model_configs as mc


def test_llm_7b_is_llama_7b_sized():
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = mc.llm_config("7b")
    config = AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    with torch.device("meta"):
        llm = AutoModelForCausalLM.from_config(config)
    assert sum(p.numel() for p in llm.parameters()) == 6_738_415_616  # LLaMA-7B


def test_llm_7b_lora_trains_a_small_fraction():
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = mc.llm_config("7b")
    config = AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    with torch.device("meta"):
        llm = get_peft_model(
            AutoModelForCausalLM.from_config(config),
            LoraConfig(task_type="CAUSAL_LM", target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                       **mc.LORA),
        )  # fmt: skip
    trainable = sum(p.numel() for p in llm.parameters() if p.requires_grad)
    # r * (in + out) per adapted 4096 x 4096 projection, 4 per layer, 32 layers
    assert trainable == 32 * 4 * mc.LORA["r"] * (4096 + 4096)


def test_hubert_large_sized_encoder():
    from espnet2.asr.encoder.transformer_encoder import TransformerEncoder

    name, conf = mc.ENCODERS["hubert_large"]
    assert name == "transformer"
    with torch.device("meta"):
        enc = TransformerEncoder(input_size=80, **conf)
    n = sum(p.numel() for p in enc.parameters())
    assert 300e6 < n < 340e6, n  # HuBERT-large: 316M
    assert enc.output_size() == 1024


def test_llm_config_rejects_unknown_size():
    with pytest.raises(ValueError, match="unknown LLM size 'huge'"):
        mc.llm_config("huge")


def test_text_and_speech_batches_pad():
    class Tok:
        def __call__(self, text, add_special_tokens=False):
            return type("Enc", (), {"input_ids": [len(w) for w in text.split()]})()

    text, lens = mc.text_batch(Tok(), ["ab c", "abc"])
    assert text.tolist() == [[2, 1], [3, -1]] and lens.tolist() == [2, 1]
    speech, slens = mc.speech_batch([torch.ones(3), torch.ones(5)])
    assert speech.shape == (2, 5) and slens.tolist() == [3, 5]
    assert speech[0, 3:].abs().sum() == 0
