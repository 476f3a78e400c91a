"""decoder_conf.autocast / frozen_dtype: bf16 LLM compute, fp32 trained weights and loss."""

import logging

import pytest
import torch
import torch.nn.functional as F

from espnet_speechllm.asr.decoder.hf_llm_decoder import HFLLMDecoder
from tiny import TINY_LLAMA

B, P, D = 3, 7, TINY_LLAMA["hidden_size"]
BF16 = dict(autocast="bfloat16", frozen_dtype="bfloat16")


@pytest.fixture
def native(native_bf16):
    """Autocast takes effect on any CPU (without native kernels it is only slower)."""
    native_bf16(True)


def _decoder(tok, **kw) -> HFLLMDecoder:
    torch.manual_seed(0)
    kw.setdefault("lora_conf", dict(r=4, init_lora_weights=False))
    return HFLLMDecoder(config=dict(TINY_LLAMA), tokenizer_name_or_path=str(tok), **kw)


def _loss(dec: HFLLMDecoder) -> torch.Tensor:
    torch.manual_seed(1)
    hs = torch.randn(B, P, D, requires_grad=True)  # the projector's output: trained
    hl = torch.tensor([7, 4, 5])
    ys = torch.tensor([[5, 6, 7], [8, -1, -1], [9, 10, -1]])
    yl = torch.tensor([3, 1, 2])
    logits, _ = dec(hs, hl, ys, yl)
    target = torch.tensor([[5, 6, 7, 2], [8, 2, -1, -1], [9, 10, 2, -1]])
    loss = F.cross_entropy(logits.transpose(1, 2).float(), target, ignore_index=-1)
    return loss, logits, hs


def _lora_params(dec):
    return {k: p for k, p in dec.named_parameters() if "lora_" in k}


@pytest.mark.parametrize("mode", ["lora", "frozen"])
def test_bf16_loss_close_to_fp32_with_fp32_trained_weights(tiny_tokenizer, native, mode):
    ref = _decoder(tiny_tokenizer, mode=mode).train()
    amp = _decoder(tiny_tokenizer, mode=mode, **BF16).train()
    loss32, logits32, _ = _loss(ref)
    loss16, logits16, hs = _loss(amp)
    assert logits32.dtype == torch.float32 and logits16.dtype == torch.bfloat16
    assert torch.isfinite(loss16) and loss16.dtype == torch.float32
    assert loss16.item() != loss32.item()  # bf16 really ran
    assert abs(loss16.item() - loss32.item()) / loss32.item() < 0.02
    loss16.backward()
    assert hs.grad.dtype == torch.float32 and torch.isfinite(hs.grad).all() and hs.grad.abs().sum() > 0
    base = [p for k, p in amp.named_parameters() if "lora_" not in k]
    assert base and all(p.dtype == torch.bfloat16 and not p.requires_grad for p in base)
    lora = _lora_params(amp)
    assert bool(lora) == (mode == "lora")
    for k, p in lora.items():
        assert p.dtype == torch.float32 and p.grad is not None, k
        assert p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, k


def test_frozen_weights_return_to_bf16_after_a_whole_model_cast(tiny_tokenizer, native):
    """ESPnet's trainer casts the built model to --train_dtype; the next call stores bf16 again."""
    dec = _decoder(tiny_tokenizer, mode="lora", **BF16)
    _loss(dec)
    dec.to(torch.float32)
    assert dec.llm.get_input_embeddings().weight.dtype == torch.float32
    _loss(dec)
    assert dec.llm.get_input_embeddings().weight.dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in _lora_params(dec).values())
    # frozen weights stay out of the checkpoint, trained ones go in as fp32
    sd = dec.state_dict()
    assert sd and all("lora_" in k and v.dtype == torch.float32 for k, v in sd.items())


def test_full_mode_autocast_keeps_fp32_master_weights(tiny_tokenizer, native):
    dec = _decoder(tiny_tokenizer, mode="full", autocast="bfloat16").train()
    loss, logits, _ = _loss(dec)
    loss.backward()
    assert logits.dtype == torch.bfloat16
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in dec.parameters())


def test_generate_under_bf16(tiny_tokenizer, native):
    ref = _decoder(tiny_tokenizer, mode="lora").eval()
    amp = _decoder(tiny_tokenizer, mode="lora", **BF16).eval()
    torch.manual_seed(2)
    hs, hl = torch.randn(2, P, D), torch.tensor([7, 5])
    out16 = amp.generate(hs, hl, max_new_tokens=4, min_new_tokens=4)
    out32 = ref.generate(hs, hl, max_new_tokens=4, min_new_tokens=4)
    assert amp.llm.get_input_embeddings().weight.dtype == torch.bfloat16
    for (ids16, s16), (ids32, s32) in zip((o[0] for o in out16), (o[0] for o in out32)):
        assert len(ids16) == len(ids32) == 4 and s16 < 0 and torch.isfinite(torch.tensor(s16))


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(frozen_dtype="bfloat16"), r"frozen_dtype='bfloat16' needs decoder_conf.autocast: bfloat16"),
        (dict(mode="full", **BF16), r"mode frozen or lora, got autocast='bfloat16', mode='full'"),
        (dict(autocast="bf16"), r"decoder_conf.autocast='bf16': choose from"),
    ],
)
def test_bad_low_precision_confs(tiny_tokenizer, kw, match):
    kw.setdefault("mode", "lora")
    with pytest.raises(ValueError, match=match):
        _decoder(tiny_tokenizer, **kw)


def test_fallback_to_fp32_without_native_bf16(tiny_tokenizer, native_bf16, caplog):
    native_bf16(False)
    ref = _decoder(tiny_tokenizer, mode="lora").eval()
    amp = _decoder(tiny_tokenizer, mode="lora", **BF16).eval()
    with caplog.at_level(logging.WARNING), torch.no_grad():
        logits32, logits16 = _loss(ref)[1], _loss(amp)[1]
    assert torch.equal(logits16, logits32)
    assert all(p.dtype == torch.float32 for p in amp.parameters())
    assert "decoder_conf.autocast: this CPU has no native torch.bfloat16; running fp32" in caplog.text


def test_bf16_stored_llm_under_autocast_takes_an_fp32_prefix(tiny_tokenizer, native):
    """decoder_conf.dtype: bfloat16 + autocast (bench/gpu_check's 7B: never held in fp32):
    the fp32 projector output and the bf16 text embeddings join in one sequence."""
    dec = _decoder(tiny_tokenizer, mode="lora", dtype="bfloat16", autocast="bfloat16").train()
    loss, logits, hs = _loss(dec)
    assert dec.embed(torch.tensor([[5]])).dtype == torch.bfloat16
    assert logits.dtype == torch.bfloat16 and torch.isfinite(loss)
    loss.backward()
    assert hs.grad.dtype == torch.float32 and hs.grad.abs().sum() > 0
    assert all(p.grad is not None for p in _lora_params(dec).values())
