import pytest
import torch

from espnet_speechllm.asr.compressor.stack_compressor import StackCompressor


def test_stacks_consecutive_frames():
    hs = torch.arange(1.0, 15.0).reshape(2, 7, 1)  # [1..7], [8..14]
    ys, ylens = StackCompressor(1, stride=4)(hs, torch.tensor([7, 5]))
    assert ylens.tolist() == [2, 2]
    assert ys.tolist() == [
        [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 0.0]],
        [[8.0, 9.0, 10.0, 11.0], [12.0, 0.0, 0.0, 0.0]],
    ]


@pytest.mark.parametrize(
    "length,stride,expected", [(1, 4, 1), (4, 4, 1), (5, 4, 2), (9, 2, 5), (3, 1, 3)]
)
def test_lengths_are_ceil(length, stride, expected):
    ys, ylens = StackCompressor(2, stride=stride)(
        torch.randn(1, length, 2), torch.tensor([length])
    )
    assert ylens.tolist() == [expected] and ys.shape == (1, expected, 2 * stride)


def test_output_size():
    assert StackCompressor(5, stride=3).output_size() == 15


def test_invalid_stride():
    with pytest.raises(ValueError, match="stride must be >= 1, got 0"):
        StackCompressor(5, stride=0)
