"""The streaming encoder choice: ESPnet's contextual block conformer + forward_chunk."""

import pytest
import torch

from espnet_speechllm.asr.encoder.contextual_block_conformer_encoder import (
    ContextualBlockConformerEncoder,
)
from espnet_speechllm.tasks.speechllm import encoder_choices
from streaming.conftest import STREAMING_ENCODER


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return ContextualBlockConformerEncoder(20, **STREAMING_ENCODER).eval()


def test_registered():
    assert encoder_choices.get_class("contextual_block_conformer") is ContextualBlockConformerEncoder


@pytest.mark.parametrize("n_feats", [12, 40, 97, 250])
@pytest.mark.parametrize("chunk", [8, 25, 1000])
def test_chunks_give_the_whole_utterance_output(encoder, n_feats, chunk):
    x = torch.randn(1, n_feats, 20)
    with torch.no_grad():
        ref, ref_lens, _ = encoder(x, torch.tensor([n_feats]))
        outs, states = [], None
        for start in range(0, n_feats, chunk):
            c = x[:, start : start + chunk]
            lens = torch.tensor([c.size(1)])
            y, y_lens, states = encoder.forward_chunk(c, lens, states, start + chunk >= n_feats)
            assert lens.tolist() == [c.size(1)]  # the input lengths are not changed in place
            assert y_lens.dtype == torch.long and y_lens.tolist() == [y.size(1)]
            assert y.shape[0] == 1 and y.shape[2] == encoder.output_size() == 32
            outs.append(y)
    assert states is None  # flushed
    out = torch.cat(outs, dim=1)
    assert out.shape == ref.shape and ref_lens.tolist() == [out.size(1)]
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)


def test_forward_chunk_refuses_batches_and_training(encoder):
    with pytest.raises(ValueError, match="one utterance"):
        encoder.forward_chunk(torch.randn(2, 30, 20), torch.tensor([30, 30]))
    encoder.train()
    try:
        with pytest.raises(RuntimeError, match="eval"):
            encoder.forward_chunk(torch.randn(1, 30, 20), torch.tensor([30]))
    finally:
        encoder.eval()


def test_empty_first_chunk(encoder):
    y, y_lens, states = encoder.forward_chunk(torch.zeros(1, 0, 20), torch.tensor([0]), None, True)
    assert y.shape == (1, 0, 32) and y_lens.tolist() == [0] and states is None
