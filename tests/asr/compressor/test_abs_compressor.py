"""The slot contract, checked on every compressor."""

import pytest
import torch

from espnet_speechllm.asr.compressor.abs_compressor import AbsCompressor
from espnet_speechllm.asr.compressor.conv_compressor import ConvCompressor
from espnet_speechllm.asr.compressor.ctc_compressor import CTCCompressor
from espnet_speechllm.asr.compressor.identity_compressor import IdentityCompressor
from espnet_speechllm.asr.compressor.stack_compressor import StackCompressor

DIM = 6
BUILDERS = {
    "identity": lambda: IdentityCompressor(DIM),
    "stack": lambda: StackCompressor(DIM, stride=3),
    "conv": lambda: ConvCompressor(DIM, output_size=5, stride=2),
    "conv_overlap": lambda: ConvCompressor(DIM, stride=2, kernel_size=5),
    "conv_skip": lambda: ConvCompressor(DIM, stride=3, kernel_size=2),
    "ctc_averaging": lambda: CTCCompressor(DIM, vocab_size=3, mode="frame_averaging"),
    "ctc_removal": lambda: CTCCompressor(DIM, vocab_size=3, mode="blank_removal"),
}
EXPECTED_SIZE = {
    "identity": DIM,
    "stack": 3 * DIM,
    "conv": 5,
    "conv_overlap": DIM,
    "conv_skip": DIM,
    "ctc_averaging": DIM,
    "ctc_removal": DIM,
}


def _padded_batch(lens, garbage=1e3):
    """Random states with large garbage (not zeros) in the padded frames."""
    hs = torch.randn(len(lens), max(lens), DIM)
    for i, n in enumerate(lens):
        hs[i, n:] = garbage
    return hs, torch.tensor(lens)


@pytest.fixture(params=sorted(BUILDERS))
def name(request):
    return request.param


def test_output_size(name):
    compressor = BUILDERS[name]()
    assert compressor.output_size() == EXPECTED_SIZE[name]
    ys, _ = compressor(*_padded_batch([7, 4]))
    assert ys.size(-1) == EXPECTED_SIZE[name]


def test_forward_backward_smoke(name):
    torch.manual_seed(0)
    compressor = BUILDERS[name]()
    hs, hlens = _padded_batch([9, 5, 1])
    hs.requires_grad_(True)
    ys, ylens = compressor(hs, hlens)
    assert ys.dim() == 3 and ys.size(0) == 3 and ys.size(1) == int(ylens.max())
    assert ylens.dtype == torch.long and bool((ylens <= hlens).all())
    ys.pow(2).sum().backward()
    assert hs.grad is not None and torch.isfinite(hs.grad).all()
    # Gradients never reach padded input frames.
    assert hs.grad[1, 5:].abs().sum() == 0 and hs.grad[2, 1:].abs().sum() == 0


def test_padded_output_frames_are_zero(name):
    torch.manual_seed(0)
    ys, ylens = BUILDERS[name]().eval()(*_padded_batch([8, 3, 1]))
    for i, n in enumerate(ylens.tolist()):
        assert ys[i, n:].abs().sum() == 0


def test_padding_invariance(name):
    torch.manual_seed(0)
    compressor = BUILDERS[name]().eval()
    hs, hlens = _padded_batch([11, 4, 7])
    ys, ylens = compressor(hs, hlens)
    for i, n in enumerate(hlens.tolist()):
        alone, alone_len = compressor(hs[i : i + 1, :n], hlens[i : i + 1])
        assert int(ylens[i]) == int(alone_len) == alone.size(1)
        m = int(alone_len)
        assert torch.allclose(ys[i, :m], alone[0, :m], atol=1e-6), name


def test_aux_loss_defaults_to_none():
    compressor = IdentityCompressor(DIM)
    hs, hlens = _padded_batch([3])
    ys = torch.tensor([[1, 2]])
    assert compressor.aux_loss(hs, hlens, ys, torch.tensor([2])) is None


def test_abstract_methods_are_required():
    class Incomplete(AbsCompressor):
        def output_size(self) -> int:
            return 1

    with pytest.raises(TypeError, match="forward"):
        Incomplete()


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_ctc_head_is_the_head_of_ctc_compressors_only(name):
    comp = BUILDERS[name]()
    if not isinstance(comp, CTCCompressor):
        assert comp.ctc_head is None
        return
    head = comp.ctc_head
    assert head is comp.ctc
    hs = torch.randn(2, 5, DIM)
    # Blank + 3 LLM tokens; the head's argmax is what the compressor merges by.
    assert head.log_softmax(hs).shape == (2, 5, 4)
    assert torch.equal(head.argmax(hs), comp.ctc.ctc_lo(hs).argmax(-1))
