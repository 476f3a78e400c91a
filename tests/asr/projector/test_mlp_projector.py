import pytest
import torch

from espnet_speechllm.asr.projector.mlp_projector import MLPProjector


@pytest.mark.parametrize(
    "activation,expected", [("relu", [0.0, 2.0]), ("gelu", None), ("silu", None)]
)
def test_linear_activation_linear(activation, expected):
    projector = MLPProjector(1, 1, hidden_size=1, activation=activation)
    first, act, _, second = projector.mlp
    with torch.no_grad():
        first.weight.fill_(1.0), first.bias.zero_()
        second.weight.fill_(1.0), second.bias.zero_()
    hs = torch.tensor([[[-2.0], [2.0]]])
    ys, _ = projector(hs, torch.tensor([2]))
    assert torch.allclose(ys, act(hs))
    if expected is not None:
        assert ys.flatten().tolist() == expected


def test_hidden_size_defaults_to_output_size():
    projector = MLPProjector(3, 5)
    assert projector.mlp[0].out_features == 5 and projector.output_size() == 5
    assert MLPProjector(3, 5, hidden_size=9).mlp[0].out_features == 9


def test_invalid_activation():
    with pytest.raises(ValueError, match="activation must be one of .*'tanh'"):
        MLPProjector(3, 5, activation="tanh")
