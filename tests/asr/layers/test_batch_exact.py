"""exact_padding: a padded batch through ESPnet's encoders == each utterance alone."""

import pytest
import torch

from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
from espnet2.asr.encoder.transformer_encoder import TransformerEncoder
from espnet_speechllm.asr.layers.batch_exact import (
    exact_padding,
    is_batch_exact,
    subsampled_lengths,
)

LENS = [51, 38, 46, 23]
LATEST = dict(rel_pos_type="latest", pos_enc_layer_type="rel_pos", selfattention_layer_type="rel_selfattn")


def _feats():
    torch.manual_seed(0)
    x = torch.randn(len(LENS), max(LENS), 80)
    for b, n in enumerate(LENS):
        x[b, n:] = 0
    return x, torch.tensor(LENS)


def _conformer(input_layer, **kw):
    torch.manual_seed(0)
    return ConformerEncoder(80, output_size=32, attention_heads=2, linear_units=64, num_blocks=2,
                            input_layer=input_layer, cnn_module_kernel=7, **kw).eval()  # fmt: skip


def _one_by_one(enc, x):
    return [enc(x[b : b + 1, :n], torch.tensor([n]))[0][0] for b, n in enumerate(LENS)]


@pytest.mark.parametrize("input_layer", ["conv2d", "conv2d6", "conv2d8"])
@pytest.mark.parametrize("pos", ["latest", "abs_pos"])
def test_conformer_batch_equals_one_by_one(input_layer, pos):
    kw = LATEST if pos == "latest" else dict(pos_enc_layer_type="abs_pos", selfattention_layer_type="selfattn")
    enc = _conformer(input_layer, **kw)
    assert is_batch_exact(enc)
    x, lens = _feats()
    with torch.no_grad():
        alone = _one_by_one(enc, x)
        with exact_padding(enc, lens):
            batch, blens, _ = enc(x, lens)
        plain, plens, _ = enc(x, lens)  # without the hooks: padding leaks
    assert blens.tolist() == [a.size(0) for a in alone]
    for b, a in enumerate(alone):
        torch.testing.assert_close(batch[b, : a.size(0)], a, atol=1e-5, rtol=1e-4)
    assert plens.tolist() != blens.tolist() or not all(
        torch.allclose(plain[b, : a.size(0)], a, atol=1e-5) for b, a in enumerate(alone)
    )
    assert not enc.embed._forward_hooks  # hooks removed on exit


def test_transformer_encoder_batch_equals_one_by_one():
    torch.manual_seed(0)
    enc = TransformerEncoder(80, output_size=32, attention_heads=2, linear_units=64, num_blocks=2,
                             input_layer="conv2d6").eval()  # fmt: skip
    assert is_batch_exact(enc)
    x, lens = _feats()
    with torch.no_grad(), exact_padding(enc, lens):
        batch, blens, _ = enc(x, lens)
    with torch.no_grad():
        for b, a in enumerate(_one_by_one(enc, x)):
            assert int(blens[b]) == a.size(0)
            torch.testing.assert_close(batch[b, : a.size(0)], a, atol=1e-5, rtol=1e-4)


def test_legacy_relative_positions_are_not_batch_exact():
    assert not is_batch_exact(_conformer("conv2d"))  # ESPnet's default rel_pos_type: legacy


@pytest.mark.parametrize("input_layer,expect", [("conv2d", lambda t: ((t - 1) // 2 - 1) // 2),
                                                ("conv2d6", lambda t: ((t - 1) // 2 - 2) // 3),
                                                ("conv2d8", lambda t: (((t - 1) // 2 - 1) // 2 - 1) // 2)])  # fmt: skip
def test_subsampled_lengths_match_the_encoder_alone(input_layer, expect):
    enc = _conformer(input_layer, **LATEST)
    for t in (15, 23, 38, 51):
        with torch.no_grad():
            _, olens, _ = enc(torch.randn(1, t, 80), torch.tensor([t]))
        assert subsampled_lengths(enc.embed, torch.tensor([t])).tolist() == olens.tolist() == [expect(t)]
