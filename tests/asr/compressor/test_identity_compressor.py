import pytest
import torch
from typeguard import TypeCheckError

from espnet_speechllm.asr.compressor.identity_compressor import IdentityCompressor


def test_passes_valid_frames_and_zeroes_padding():
    hs = torch.arange(1.0, 7.0).reshape(2, 3, 1)
    ys, ylens = IdentityCompressor(1)(hs, torch.tensor([3, 1]))
    assert ys.flatten().tolist() == [1.0, 2.0, 3.0, 4.0, 0.0, 0.0]
    assert ylens.tolist() == [3, 1]


def test_output_size():
    assert IdentityCompressor(7).output_size() == 7


def test_rejects_non_int_size():
    with pytest.raises(TypeCheckError):
        IdentityCompressor(7.0)
