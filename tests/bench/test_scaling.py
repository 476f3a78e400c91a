"""Audio assembly of bench/scaling.py and the GPU mode's skip path of every bench."""

import pytest
import torch

from bench.scaling import long_audio


def test_long_audio_cycles_utterances_and_cuts_exactly():
    utts = [("a", torch.arange(3.0), ""), ("b", torch.arange(2.0) + 10, "")]
    out = long_audio(utts, seconds=8 / 16000)
    assert out.tolist() == [0, 1, 2, 10, 11, 0, 1, 2]


def test_long_audio_rejects_zero_length():
    with pytest.raises(ValueError, match="must be > 0 s"):
        long_audio([("a", torch.ones(4), "")], 0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the no-GPU path")
@pytest.mark.parametrize("name", ["compression", "mfu", "scaling"])
def test_cuda_mode_skips_cleanly_without_gpu(name, capsys):
    import importlib

    main = importlib.import_module(f"bench.{name}").main
    assert not main(["--device", "cuda", "--out", "/nonexistent/never.json"])
    out = capsys.readouterr().out
    assert out.startswith(f"SKIP {name}: --device cuda asked for") and "no CUDA device" in out
