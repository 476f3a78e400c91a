"""The slot contract, checked on every projector."""

import pytest
import torch

from espnet_speechllm.asr.projector.abs_projector import AbsProjector
from espnet_speechllm.asr.projector.conv1d_mlp_projector import Conv1dMLPProjector
from espnet_speechllm.asr.projector.conv1d_transformer_projector import (
    Conv1dTransformerProjector,
)
from espnet_speechllm.asr.projector.dws_mlp_projector import DwsMLPProjector
from espnet_speechllm.asr.projector.linear_projector import LinearProjector
from espnet_speechllm.asr.projector.mlp_projector import MLPProjector
from espnet_speechllm.asr.projector.transformer_projector import TransformerProjector

DIN, DOUT = 6, 10
BUILDERS = {
    "linear": lambda: LinearProjector(DIN, DOUT),
    "mlp": lambda: MLPProjector(DIN, DOUT, hidden_size=12, dropout_rate=0.1),
    "transformer": lambda: TransformerProjector(
        DIN, DOUT, hidden_size=8, num_layers=2, attention_heads=2, linear_units=16
    ),
    "conv1d_mlp": lambda: Conv1dMLPProjector(DIN, DOUT, stride=2, kernel_size=3),
    "dws_mlp": lambda: DwsMLPProjector(DIN, DOUT, stride=2, kernel_size=3),
    "conv1d_transformer": lambda: Conv1dTransformerProjector(
        DIN, DOUT, stride=2, kernel_size=3, hidden_size=8, attention_heads=2,
        linear_units=16,
    ),
}
STRIDE = {"conv1d_mlp": 2, "dws_mlp": 2, "conv1d_transformer": 2}


def _out_len(name, n):
    return -(-n // STRIDE.get(name, 1))


def _padded_batch(lens, garbage=1e3):
    """Random states with large garbage (not zeros) in the padded frames."""
    hs = torch.randn(len(lens), max(lens), DIN)
    for i, n in enumerate(lens):
        hs[i, n:] = garbage
    return hs, torch.tensor(lens)


@pytest.fixture(params=sorted(BUILDERS))
def name(request):
    return request.param


def test_output_size(name):
    projector = BUILDERS[name]()
    assert projector.output_size() == DOUT
    ys, ylens = projector(*_padded_batch([4, 2]))
    assert ys.shape == (2, _out_len(name, 4), DOUT)
    assert ylens.tolist() == [_out_len(name, 4), _out_len(name, 2)]


def test_forward_backward_smoke(name):
    torch.manual_seed(0)
    projector = BUILDERS[name]()
    hs, hlens = _padded_batch([5, 3, 1])
    hs.requires_grad_(True)
    ys, _ = projector(hs, hlens)
    ys.pow(2).sum().backward()
    assert torch.isfinite(hs.grad).all() and hs.grad[0].abs().sum() > 0
    assert hs.grad[1, 3:].abs().sum() == 0 and hs.grad[2, 1:].abs().sum() == 0
    assert all(torch.isfinite(p.grad).all() for p in projector.parameters())


@pytest.mark.parametrize("grad", [True, False])  # no_grad may take fused kernels
def test_padding_invariance(name, grad):
    torch.manual_seed(0)
    projector = BUILDERS[name]().eval()
    hs, hlens = _padded_batch([7, 3, 5])
    with torch.set_grad_enabled(grad):
        ys, ylens = projector(hs, hlens)
    for i, n in enumerate(hlens.tolist()):
        with torch.set_grad_enabled(grad):
            alone, alone_lens = projector(hs[i : i + 1, :n], hlens[i : i + 1])
        m = _out_len(name, n)
        assert ylens[i] == alone_lens[0] == m and alone.size(1) == m
        assert torch.allclose(ys[i, :m], alone[0], atol=1e-5), name
        assert ys[i, m:].abs().sum() == 0


@pytest.mark.parametrize("train", [True, False])
def test_empty_inputs(name, train):
    projector = BUILDERS[name]().train(train)
    ys, ylens = projector(torch.zeros(2, 0, DIN), torch.tensor([0, 0]))
    assert ys.shape == (2, 0, DOUT) and ylens.tolist() == [0, 0]
    # A length-0 utterance inside a batch (e.g. all blank under CTC blank removal).
    hs, hlens = _padded_batch([3, 0])
    ys, _ = projector(hs, hlens)
    assert torch.isfinite(ys).all() and ys[1].abs().sum() == 0


def test_abstract_methods_are_required():
    class Incomplete(AbsProjector):
        def output_size(self) -> int:
            return 1

    with pytest.raises(TypeError, match="forward"):
        Incomplete()
