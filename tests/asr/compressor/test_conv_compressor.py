import pytest
import torch

from espnet_speechllm.asr.compressor.conv_compressor import ConvCompressor


def _summing_conv(stride, kernel_size):
    """A 1-channel conv that sums its window, without activation."""
    compressor = ConvCompressor(1, stride=stride, kernel_size=kernel_size)
    with torch.no_grad():
        compressor.conv.weight.fill_(1.0)
        compressor.conv.bias.zero_()
    compressor.activation = torch.nn.Identity()
    return compressor


@pytest.mark.parametrize(
    "stride,kernel_size,expected",
    [
        (2, 2, [3.0, 7.0, 5.0]),  # windows [1,2] [3,4] [5,0]
        (2, 3, [6.0, 12.0, 5.0]),  # windows [1,2,3] [3,4,5] [5,0,0]
        (3, 1, [1.0, 4.0]),  # windows [1] [4]
    ],
)
def test_windows_and_zero_right_padding(stride, kernel_size, expected):
    hs = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0, 100.0]])[..., None]
    ys, ylens = _summing_conv(stride, kernel_size)(hs, torch.tensor([5]))
    assert ys.flatten().tolist()[: len(expected)] == expected
    assert ylens.tolist() == [len(expected)]


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5, 9])
def test_exact_lengths(length):
    compressor = ConvCompressor(3, output_size=4, stride=4, kernel_size=6)
    ys, ylens = compressor(torch.randn(1, length, 3), torch.tensor([length]))
    assert ylens.tolist() == [-(-length // 4)] and ys.shape == (1, -(-length // 4), 4)


def test_empty_time_axis():
    ys, ylens = ConvCompressor(3, stride=2)(torch.randn(2, 0, 3), torch.tensor([0, 0]))
    assert ys.shape == (2, 0, 3) and ylens.tolist() == [0, 0]


def test_output_size_defaults_to_input_size():
    assert ConvCompressor(6).output_size() == 6
    assert ConvCompressor(6, output_size=8).output_size() == 8


@pytest.mark.parametrize("key", ["output_size", "stride", "kernel_size"])
def test_invalid_config(key):
    with pytest.raises(ValueError, match=f"{key} must be >= 1, got 0"):
        ConvCompressor(6, **{key: 0})


def test_groups_must_divide_the_channels():
    assert ConvCompressor(4, 4, groups=4).conv.weight.shape == (4, 1, 4)
    with pytest.raises(ValueError, match=r"groups \(3\) must divide input_size \(4\)"):
        ConvCompressor(4, 6, groups=3)
