import pytest
import torch

from espnet_speechllm.asr.projector.transformer_projector import TransformerProjector


def _tiny(**kwargs):
    conf = dict(hidden_size=8, num_layers=2, attention_heads=2, linear_units=16)
    return TransformerProjector(4, 6, **{**conf, **kwargs})


def test_structure_follows_config():
    projector = _tiny(num_layers=3)
    assert len(projector.layers) == 3 and projector.output_size() == 6
    layer = projector.layers[0]
    assert layer.norm_first and layer.self_attn.batch_first
    assert layer.self_attn.num_heads == 2 and layer.linear1.out_features == 16


def test_frames_attend_to_each_other_but_not_to_padding():
    torch.manual_seed(0)
    projector = _tiny().eval()
    hs = torch.randn(1, 4, 4)
    ys, _ = projector(hs, torch.tensor([3]))
    changed = hs.clone()
    changed[0, 2] += 1.0  # a valid frame changes every valid output
    ys_changed, _ = projector(changed, torch.tensor([3]))
    assert not torch.allclose(ys[0, 0], ys_changed[0, 0])
    changed = hs.clone()
    changed[0, 3] += 1.0  # a padded frame changes nothing
    ys_changed, _ = projector(changed, torch.tensor([3]))
    assert torch.equal(ys, ys_changed)


def test_length_zero_utterance_gives_no_nan_inside_the_layers():
    # In eval + no_grad PyTorch takes its fused encoder-layer kernel, which returns
    # NaN for a row whose keys are all masked. The final zeroing hides it in the
    # output, but NaN inside the layers would poison gradients where a path keeps it.
    projector = _tiny().eval()
    layer_outputs = []

    class Recorder(torch.nn.Module):  # forward hooks would disable the fused kernel
        def __init__(self, layer):
            super().__init__()
            self.layer = layer

        def forward(self, xs, **kwargs):
            layer_outputs.append(self.layer(xs, **kwargs))
            return layer_outputs[-1]

    projector.layers = torch.nn.ModuleList(Recorder(layer) for layer in projector.layers)
    with torch.no_grad():
        ys, _ = projector(torch.randn(3, 5, 4), torch.tensor([5, 0, 2]))
    assert len(layer_outputs) == 2
    assert all(torch.isfinite(out).all() for out in layer_outputs)
    assert torch.isfinite(ys).all() and ys[1].abs().sum() == 0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(num_layers=0), "num_layers must be >= 1"),
        (
            dict(attention_heads=3),
            r"attention_heads \(3\) must divide hidden_size \(8\)",
        ),
    ],
)
def test_invalid_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _tiny(**kwargs)
