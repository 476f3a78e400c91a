"""speechllm_inference --dtype bfloat16: encoder and LLM under autocast, LLM weights in bf16."""

import logging

import pytest
import soundfile
import torch

from espnet_speechllm.bin.speechllm_inference import Speech2TextLLM


@pytest.fixture
def wav(an4_dirs):
    path = (an4_dirs / "test" / "wav.scp").read_text().splitlines()[0].split(maxsplit=1)[1]
    return soundfile.read(path, dtype="float32")[0]


def _s2t(exp, **kw) -> Speech2TextLLM:
    return Speech2TextLLM(exp / "config.yaml", exp / "valid.acc.ave.pth", min_new_tokens=2, **kw)


def test_bf16_decoding_goes_through_the_autocast_switch(trained_exp, wav, native_bf16):
    native_bf16(True)
    ref, amp = _s2t(trained_exp), _s2t(trained_exp, dtype="bfloat16")
    (h32,), (h16,) = ref(wav)[:1], amp(wav)[:1]
    assert amp.model.encoder_autocast is torch.bfloat16 and amp.model.decoder.autocast is torch.bfloat16
    assert all(p.dtype == torch.bfloat16 for p in amp.model.decoder.parameters())
    assert all(p.dtype == torch.float32 for p in amp.model.projector.parameters())
    assert all(p.dtype == torch.float32 for p in ref.model.parameters())
    assert len(h16[2]) >= 2 and torch.isfinite(torch.tensor(h16[3]))
    # bf16 changes the scores a little (8 mantissa bits), not their scale
    assert h16[3] == pytest.approx(h32[3], rel=0.5)


def test_bf16_decoding_without_native_kernels_is_fp32(trained_exp, wav, native_bf16, caplog):
    native_bf16(False)
    ref, amp = _s2t(trained_exp), _s2t(trained_exp, dtype="bfloat16")
    with caplog.at_level(logging.WARNING):
        h32, h16 = ref(wav)[0], amp(wav)[0]
    assert h16 == h32
    assert all(p.dtype == torch.float32 for p in amp.model.parameters())
    assert "this CPU has no native torch.bfloat16; running fp32" in caplog.text
