"""Conv1dMLP, DwsMLP and Conv1dTransformer: conf keys, receptive field, errors."""

import pytest
import torch

from espnet_speechllm.asr.projector.conv1d_mlp_projector import Conv1dMLPProjector
from espnet_speechllm.asr.projector.conv1d_transformer_projector import (
    Conv1dTransformerProjector,
)
from espnet_speechllm.asr.projector.dws_mlp_projector import DwsMLPProjector

TINY_TRANSFORMER = dict(hidden_size=8, attention_heads=2, linear_units=16)
CLASSES = {
    "conv1d_mlp": (Conv1dMLPProjector, {}),
    "dws_mlp": (DwsMLPProjector, {}),
    "conv1d_transformer": (Conv1dTransformerProjector, TINY_TRANSFORMER),
}


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("stride,kernel", [(1, 1), (2, 2), (3, 5), (4, 2)])
def test_lengths_follow_the_stride(name, stride, kernel):
    cls, conf = CLASSES[name]
    projector = cls(4, 6, stride=stride, kernel_size=kernel, **conf)
    ys, ylens = projector(torch.randn(3, 10, 4), torch.tensor([10, 7, 1]))
    expect = [-(-n // stride) for n in (10, 7, 1)]
    assert ys.shape == (3, expect[0], 6) and ylens.tolist() == expect


@pytest.mark.parametrize("name", ["conv1d_mlp", "dws_mlp"])
def test_output_frame_sees_only_its_window(name):
    torch.manual_seed(0)
    cls, _ = CLASSES[name]
    projector = cls(4, 6, stride=2, kernel_size=3).eval()  # frame t sees [2t, 2t + 3)
    hs = torch.randn(1, 8, 4)
    ys, _ = projector(hs, torch.tensor([8]))
    changed = hs.clone()
    changed[0, 4] += 1.0  # inside the windows of frames 1 ([2, 5)) and 2 ([4, 7))
    ys2, _ = projector(changed, torch.tensor([8]))
    moved = (ys2 - ys).abs().sum(-1)[0] > 0
    assert moved.tolist() == [False, True, True, False]


def test_hidden_size_and_layers_come_from_the_conf():
    mlp = Conv1dMLPProjector(4, 6, stride=3, kernel_size=5, hidden_size=7)
    assert mlp.conv.conv.out_channels == 7 and mlp.conv.conv.kernel_size == (5,)
    assert mlp.conv.conv.stride == (3,) and mlp.head.mlp[0].out_features == 7
    dws = DwsMLPProjector(4, 6, stride=2, hidden_size=7)
    depthwise = dws.conv.conv
    assert depthwise.groups == 4 and depthwise.weight.shape == (4, 1, 2)
    assert dws.head.mlp[0].in_features == 4 and dws.head.mlp[0].out_features == 7
    tr = Conv1dTransformerProjector(4, 6, num_layers=3, **TINY_TRANSFORMER)
    assert len(tr.head.layers) == 3 and tr.conv.conv.out_channels == 8
    assert tr.output_size() == 6


def test_depthwise_has_fewer_conv_weights_than_the_full_conv():
    full = Conv1dMLPProjector(16, 8, stride=2, kernel_size=3, hidden_size=8)
    dws = DwsMLPProjector(16, 8, stride=2, kernel_size=3, hidden_size=8)
    assert dws.conv.conv.weight.numel() == 16 * 3
    assert full.conv.conv.weight.numel() == 16 * 8 * 3


@pytest.mark.parametrize(
    "build,match",
    [
        (lambda: Conv1dMLPProjector(4, 6, stride=0), "stride must be >= 1"),
        (lambda: DwsMLPProjector(4, 6, kernel_size=0), "kernel_size must be >= 1"),
        (
            lambda: Conv1dTransformerProjector(4, 6, hidden_size=8, attention_heads=3),
            r"attention_heads \(3\) must divide hidden_size \(8\)",
        ),
    ],
)
def test_invalid_config(build, match):
    with pytest.raises(ValueError, match=match):
        build()
