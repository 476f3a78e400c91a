import logging

import pytest
import torch

from espnet_speechllm.utils import low_precision


def test_autocast_dtype_names_the_key():
    assert low_precision.autocast_dtype(None, "k") is None
    assert low_precision.autocast_dtype("bfloat16", "k") is torch.bfloat16
    with pytest.raises(ValueError, match=r"decoder_conf.autocast='fp8': choose from \['bfloat16', 'float16'\]"):
        low_precision.autocast_dtype("fp8", "decoder_conf.autocast")


def test_autocast_runs_matmul_in_bf16(native_bf16):
    native_bf16(True)
    a = torch.randn(4, 8)
    with low_precision.autocast(a.device, torch.bfloat16, "k"):
        assert (a @ a.T).dtype == torch.bfloat16
    with low_precision.autocast(a.device, None, "k"):
        assert (a @ a.T).dtype == torch.float32


def test_autocast_falls_back_to_fp32_with_a_warning(native_bf16, caplog):
    native_bf16(False)
    a = torch.randn(4, 8)
    with caplog.at_level(logging.WARNING):
        with low_precision.autocast(a.device, torch.bfloat16, "decoder_conf.autocast"):
            assert (a @ a.T).dtype == torch.float32
    assert "decoder_conf.autocast: this CPU has no native torch.bfloat16; running fp32" in caplog.text


def test_non_cpu_devices_count_as_native(native_bf16):
    native_bf16(False)
    assert low_precision.native_on("cuda", torch.bfloat16, "k")
    assert not low_precision.native_on("cpu", torch.bfloat16, "k")


def test_cast_frozen_casts_only_what_does_not_train():
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 3))
    net[0].requires_grad_(False)
    trained = net[1].weight
    assert low_precision.cast_frozen(net, torch.bfloat16) == 2
    assert net[0].weight.dtype == net[0].bias.dtype == torch.bfloat16
    assert net[1].weight is trained and trained.dtype == torch.float32
    assert low_precision.cast_frozen(net, torch.bfloat16) == 0


@pytest.mark.parametrize(
    "flags,native",
    [({"avx512f", "avx512bw"}, False), ({"avx512f", "avx512_bf16"}, True), ({"amx_bf16"}, True), (None, True)],
)
def test_bf16_is_native_only_with_its_cpu_flags(monkeypatch, flags, native):
    """oneDNN says bf16 is supported on any AVX-512 core, where it is emulated (slower than
    fp32): the CPU flags decide; unknown flags leave oneDNN's answer."""
    monkeypatch.setattr(low_precision, "_onednn_supports", lambda dtype: True)
    monkeypatch.setattr(low_precision, "cpu_flags", lambda: None if flags is None else frozenset(flags))
    assert low_precision.cpu_has_native(torch.bfloat16) is native
    monkeypatch.setattr(low_precision, "_onednn_supports", lambda dtype: False)
    assert low_precision.cpu_has_native(torch.bfloat16) is False

