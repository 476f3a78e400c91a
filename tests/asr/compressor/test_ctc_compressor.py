import pytest
import torch

from espnet_speechllm.asr.compressor.ctc_compressor import CTCCompressor

VOCAB = 3  # LLM ids 0..2 -> CTC classes 1..3, blank = 0


def _oracle(mode):
    """A compressor whose CTC argmax is the index of the largest input feature."""
    compressor = CTCCompressor(VOCAB + 1, vocab_size=VOCAB, mode=mode)
    with torch.no_grad():
        compressor.ctc.ctc_lo.weight.copy_(torch.eye(VOCAB + 1))
        compressor.ctc.ctc_lo.bias.zero_()
    return compressor


def _frames(labels, lens):
    """One-hot frames of the given CTC classes, plus a per-frame value in the last dim.

    Feature d of frame t is 10 * onehot(label)[d] + t, so means are easy to predict.
    """
    hs = torch.zeros(len(labels), max(len(x) for x in labels), VOCAB + 1)
    for i, row in enumerate(labels):
        for t, label in enumerate(row):
            hs[i, t] = t
            hs[i, t, label] += 10.0
    return hs, torch.tensor(lens)


def test_frame_averaging_hand_case():
    hs, hlens = _frames([[0, 0, 2, 2, 2, 0, 3], [1, 1, 0, 0]], [7, 3])
    ys, ylens = _oracle("frame_averaging")(hs, hlens)
    assert ylens.tolist() == [4, 2]
    expected0 = [hs[0, 0:2].mean(0), hs[0, 2:5].mean(0), hs[0, 5], hs[0, 6]]
    assert torch.allclose(ys[0], torch.stack(expected0))
    assert torch.allclose(ys[1, :2], torch.stack([hs[1, 0:2].mean(0), hs[1, 2]]))
    assert ys[1, 2:].abs().sum() == 0


def test_blank_removal_keeps_repeats():
    hs, hlens = _frames([[0, 0, 2, 2, 2, 0, 3], [1, 1, 0, 0]], [7, 3])
    ys, ylens = _oracle("blank_removal")(hs, hlens)
    assert ylens.tolist() == [4, 2]
    assert torch.equal(ys[0], hs[0, [2, 3, 4, 6]])
    assert torch.equal(ys[1, :2], hs[1, [0, 1]]) and ys[1, 2:].abs().sum() == 0


def test_blank_removal_can_give_length_zero():
    hs, hlens = _frames([[0, 0, 0], [0, 2, 0]], [3, 3])
    ys, ylens = _oracle("blank_removal")(hs, hlens)
    assert ylens.tolist() == [0, 1] and ys.shape == (2, 1, VOCAB + 1)
    assert ys[0].abs().sum() == 0
    ys, ylens = _oracle("blank_removal")(hs[:1], hlens[:1])
    assert ylens.tolist() == [0] and ys.shape == (1, 0, VOCAB + 1)


def test_ctc_greedy_undoes_the_shift():
    hs, hlens = _frames([[0, 1, 1, 0, 1, 3, 3], [3, 0, 0, 2]], [7, 3])
    assert _oracle("frame_averaging").ctc_greedy(hs, hlens) == [[0, 0, 2], [2]]


def test_forward_sends_no_gradient_to_the_head():
    compressor = CTCCompressor(4, vocab_size=VOCAB)
    hs = torch.randn(2, 5, 4, requires_grad=True)
    ys, _ = compressor(hs, torch.tensor([5, 2]))
    ys.sum().backward()
    assert compressor.ctc.ctc_lo.weight.grad is None and hs.grad is not None


def _aux_case():
    torch.manual_seed(0)
    compressor = CTCCompressor(4, vocab_size=VOCAB)
    hs = torch.randn(2, 6, 4)
    hlens = torch.tensor([6, 4])
    ys_pad = torch.tensor([[0, 2, 2], [1, -1, -1]])  # LLM ids, id 0 is a real token
    ys_lens = torch.tensor([3, 1])
    return compressor, hs, hlens, ys_pad, ys_lens


def test_aux_loss_matches_ctc_loss_on_shifted_targets():
    compressor, hs, hlens, ys_pad, ys_lens = _aux_case()
    loss = compressor.aux_loss(hs, hlens, ys_pad, ys_lens)

    log_probs = compressor.ctc.ctc_lo(hs).log_softmax(-1).transpose(0, 1)  # (T, B, C)
    targets = torch.tensor([1, 3, 3, 2])  # ids + 1, concatenated
    per_utt = torch.nn.functional.ctc_loss(
        log_probs,
        targets,
        hlens,
        ys_lens,
        blank=0,
        reduction="none",
        zero_infinity=True,
    )
    # espnet2's CTC (reduce=True) sums over utterances and divides by the batch
    # size, unlike torch's "mean", which first divides by each target length.
    assert loss.dim() == 0
    assert torch.allclose(loss, per_utt.sum() / 2)
    assert not torch.allclose(loss, per_utt.div(ys_lens).mean())


def test_aux_loss_trains_the_head():
    compressor, hs, hlens, ys_pad, ys_lens = _aux_case()
    compressor.aux_loss(hs, hlens, ys_pad, ys_lens).backward()
    assert compressor.ctc.ctc_lo.weight.grad.abs().sum() > 0


def test_aux_loss_dropout_only_in_training():
    _, hs, hlens, ys_pad, ys_lens = _aux_case()
    compressor = CTCCompressor(4, vocab_size=VOCAB, dropout_rate=0.5)
    losses = [compressor.aux_loss(hs, hlens, ys_pad, ys_lens) for _ in range(2)]
    assert not torch.equal(losses[0], losses[1])
    compressor.eval()
    losses = [compressor.aux_loss(hs, hlens, ys_pad, ys_lens) for _ in range(2)]
    assert torch.equal(losses[0], losses[1])


@pytest.mark.parametrize("bad", [VOCAB, -5])
def test_aux_loss_rejects_ids_outside_vocab(bad):
    compressor, hs, hlens, ys_pad, ys_lens = _aux_case()
    ys_pad[0, 1] = bad
    with pytest.raises(ValueError, match=r"\[0, 3\) \(compressor_conf vocab_size\)"):
        compressor.aux_loss(hs, hlens, ys_pad, ys_lens)


def test_output_size_and_head_size():
    compressor = CTCCompressor(8, vocab_size=10)
    assert compressor.output_size() == 8
    assert compressor.ctc.ctc_lo.out_features == 11


def test_invalid_mode():
    with pytest.raises(
        ValueError, match="mode must be one of .*blank_removal.*got 'avg'"
    ):
        CTCCompressor(8, vocab_size=10, mode="avg")


def test_invalid_vocab_size():
    with pytest.raises(ValueError, match="vocab_size must be >= 1"):
        CTCCompressor(8, vocab_size=0)
