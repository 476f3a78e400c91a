"""keep_trained_only: checkpoints hold what trains, and load strictly without the rest."""

import pytest
import torch

from espnet_speechllm.asr.decoder.hf_llm_decoder import HFLLMDecoder
from espnet_speechllm.asr.encoder.hf_whisper_encoder import HFWhisperEncoder
from espnet_speechllm.asr.encoder_mode import set_encoder_mode
from espnet_speechllm.asr.frozen_weights import keep_trained_only, plain_name, untrained_keys
from tiny import TINY_WHISPER


class _Toy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.frozen = torch.nn.Linear(3, 3)
        self.trained = torch.nn.Linear(3, 2)
        self.norm = torch.nn.BatchNorm1d(2)
        self.frozen.requires_grad_(False)


def _parent(child: torch.nn.Module) -> torch.nn.Module:
    parent = torch.nn.Module()
    parent.before = torch.nn.Linear(2, 2)
    parent.child = child
    parent.after = torch.nn.Linear(2, 2)
    return parent


@pytest.mark.parametrize("buffers", [True, False])
def test_untrained_keys_left_out_and_not_missing_on_load(buffers):
    toy = _Toy()
    plain = list(toy.state_dict())
    untrained = untrained_keys(toy, buffers=buffers)
    norm_stats = {"norm.running_mean", "norm.running_var", "norm.num_batches_tracked"}
    assert untrained == {"frozen.weight", "frozen.bias"} | (norm_stats if buffers else set())
    keep_trained_only(toy, untrained)
    parent = _parent(toy)
    sd = parent.state_dict()
    # The order of the remaining keys is kept.
    assert list(sd) == (
        ["before.weight", "before.bias"]
        + [f"child.{k}" for k in plain if k not in untrained]
        + ["after.weight", "after.bias"]
    )
    fresh = _Toy()
    keep_trained_only(fresh, untrained)
    assert not _parent(fresh).load_state_dict(sd, strict=True).missing_keys
    # A trained key that is absent is still reported.
    del sd["child.trained.bias"]
    result = _parent(fresh).load_state_dict(sd, strict=False)
    assert result.missing_keys == ["child.trained.bias"]


def test_plain_lora_keys_fit_the_module_without_lora():
    from peft import LoraConfig, inject_adapter_in_model

    torch.manual_seed(0)
    plain = _Toy()
    lora = _Toy()
    inject_adapter_in_model(LoraConfig(target_modules=["trained"], r=2), lora)
    assert hasattr(lora.trained, "base_layer")
    keep_trained_only(lora, set(), plain_lora_keys=True)
    sd = lora.state_dict()
    assert {k for k in sd if "lora_" not in k} == set(plain.state_dict())
    assert plain_name("trained.base_layer.weight") == "trained.weight"
    with torch.no_grad():
        lora.trained.base_layer.weight.zero_()
    result = lora.load_state_dict(plain.state_dict(), strict=False)
    assert all("lora_" in k for k in result.missing_keys) and not result.unexpected_keys
    assert torch.equal(lora.trained.base_layer.weight, plain.trained.weight)


@pytest.mark.parametrize("mode", ["frozen", "lora", "full"])
def test_llm_decoder_checkpoint_keys_unchanged(tiny_llm, mode):
    """The keys the decoder saved before the shared hooks: the trained parameters
    (frozen / LoRA, peft's names, ``base_layer`` kept) or every key (full)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    dec = HFLLMDecoder(model_name_or_path=str(tiny_llm), mode=mode)
    llm = AutoModelForCausalLM.from_pretrained(str(tiny_llm))
    if mode == "lora":
        targets = ["q_proj", "k_proj", "v_proj", "o_proj"]
        llm = get_peft_model(llm, LoraConfig(task_type="CAUSAL_LM", target_modules=targets))
        expected = {f"llm.{n}" for n, p in llm.named_parameters() if p.requires_grad}
    else:
        expected = set() if mode == "frozen" else {f"llm.{k}" for k in llm.state_dict()}
    sd = _parent(dec).state_dict()
    assert {k[len("child.") :] for k in sd if k.startswith("child.")} == expected
    fresh = HFLLMDecoder(model_name_or_path=str(tiny_llm), mode=mode)
    assert not _parent(fresh).load_state_dict(sd, strict=True).missing_keys


@pytest.mark.parametrize("mode", ["frozen", "lora"])
def test_whisper_encoder_checkpoint_keys_unchanged(tmp_path, mode):
    """Before the shared hooks a pretrained frozen / LoRA Whisper encoder saved its
    adapters only, named as the plain encoder names its linears."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    torch.manual_seed(0)
    WhisperForConditionalGeneration(WhisperConfig(**TINY_WHISPER)).save_pretrained(tmp_path)
    enc = HFWhisperEncoder(model_name_or_path=str(tmp_path))
    set_encoder_mode(enc, mode, dict(r=2) if mode == "lora" else None)
    trained = {n for n, p in enc.named_parameters() if p.requires_grad}
    assert set(enc.state_dict()) == {plain_name(n) for n in trained}
    assert bool(trained) == (mode == "lora")
    again = HFWhisperEncoder(model_name_or_path=str(tmp_path))
    set_encoder_mode(again, mode, dict(r=2) if mode == "lora" else None)
    assert not _parent(again).load_state_dict(_parent(enc).state_dict(), strict=True).missing_keys
