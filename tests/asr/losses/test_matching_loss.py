import math

import pytest
import torch

from espnet_speechllm.asr.losses.matching_loss import MatchingLoss

H = 8


def _identity_attention(loss: MatchingLoss, sharpness: float = 50.0) -> MatchingLoss:
    """Queries c * x, keys x, values x, output x: one-hot tokens attend to themselves."""
    eye = torch.eye(H)
    attn = loss.attention
    with torch.no_grad():
        attn.in_proj_weight.copy_(torch.cat([sharpness * math.sqrt(H) * eye, eye, eye]))
        attn.in_proj_bias.zero_()
        attn.out_proj.weight.copy_(eye)
        attn.out_proj.bias.zero_()
    return loss


def test_zero_when_audio_equals_text_and_attention_aligns_them():
    loss_fn = _identity_attention(MatchingLoss(H))
    emb = torch.eye(H)[torch.tensor([[3, 1, 4, 0, 5], [2, 6, 7, 0, 0]])]  # (2, 5, H)
    lens = torch.tensor([5, 3])
    loss, stats = loss_fn(emb, lens, emb, lens)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    assert stats["loss_match_mse"].item() == pytest.approx(0.0, abs=1e-6)
    assert stats["loss_match_cos"].item() == pytest.approx(0.0, abs=1e-6)
    # The same attention on other audio is not zero: the loss measures something.
    loss_other, _ = loss_fn(emb.roll(1, dims=-1), lens, emb, lens)
    assert loss_other.item() > 0.5


def test_weights_combine_mse_and_cosine():
    torch.manual_seed(0)
    audio, text = torch.randn(2, 6, H), torch.randn(2, 4, H)
    alens, tlens = torch.tensor([6, 4]), torch.tensor([4, 2])
    torch.manual_seed(1)
    both = MatchingLoss(H, num_heads=2, mse_weight=0.5, cos_weight=2.0)
    loss, stats = both(audio, alens, text, tlens)
    expect = 0.5 * stats["loss_match_mse"] + 2.0 * stats["loss_match_cos"]
    assert torch.allclose(loss, expect) and torch.allclose(stats["loss_match"], loss)


def test_gradient_reaches_audio_and_attention_but_not_text_embeddings():
    torch.manual_seed(0)
    loss_fn = MatchingLoss(H, num_heads=2)
    audio = torch.randn(2, 6, H, requires_grad=True)
    table = torch.nn.Embedding(10, H)  # stands in for the LLM's input embeddings
    text_emb = table(torch.tensor([[1, 2, 3], [4, 5, 0]]))
    loss, _ = loss_fn(audio, torch.tensor([6, 3]), text_emb, torch.tensor([3, 2]))
    loss.backward()
    assert audio.grad[0].abs().sum() > 0 and audio.grad[1, :3].abs().sum() > 0
    assert audio.grad[1, 3:].abs().sum() == 0  # padded frames get nothing
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in loss_fn.parameters())
    assert table.weight.grad is None


def test_padding_does_not_change_the_value():
    torch.manual_seed(0)
    loss_fn = MatchingLoss(H, num_heads=2).eval()
    a1, t1 = torch.randn(1, 5, H), torch.randn(1, 3, H)
    a2, t2 = torch.randn(1, 7, H), torch.randn(1, 4, H)
    alone1, s1 = loss_fn(a1, torch.tensor([5]), t1, torch.tensor([3]))
    alone2, s2 = loss_fn(a2, torch.tensor([7]), t2, torch.tensor([4]))
    audio = torch.full((2, 7, H), 1e3)  # garbage, not zeros, in the padding
    text = torch.full((2, 4, H), -1e3)
    audio[0, :5], audio[1] = a1[0], a2[0]
    text[0, :3], text[1] = t1[0], t2[0]
    alens, tlens = torch.tensor([5, 7]), torch.tensor([3, 4])
    single, _ = loss_fn(audio[:1], alens[:1], text[:1], tlens[:1])
    assert torch.allclose(single, alone1, atol=1e-6)
    batch, stats = loss_fn(audio, alens, text, tlens)
    for key, value in stats.items():  # a mean over all valid tokens of the batch
        assert torch.allclose(value, (3 * s1[key] + 4 * s2[key]) / 7, atol=1e-6), key


def test_utterances_without_audio_are_left_out():
    torch.manual_seed(0)
    loss_fn = MatchingLoss(H)
    audio, text = torch.randn(2, 4, H), torch.randn(2, 3, H)
    loss, _ = loss_fn(audio, torch.tensor([4, 0]), text, torch.tensor([3, 3]))
    alone, _ = loss_fn(audio[:1], torch.tensor([4]), text[:1], torch.tensor([3]))
    assert torch.isfinite(loss) and torch.allclose(loss, alone, atol=1e-6)
    empty, stats = loss_fn(torch.zeros(2, 0, H), torch.tensor([0, 0]), text, torch.tensor([3, 3]))
    assert empty.item() == 0.0 and stats["loss_match"].item() == 0.0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(num_heads=3), r"num_heads \(3\) must divide the LLM hidden size \(8\)"),
        (dict(mse_weight=0.0, cos_weight=0.0), "not both 0"),
        (dict(cos_weight=-1.0), "must be >= 0"),
    ],
)
def test_invalid_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MatchingLoss(H, **kwargs)
