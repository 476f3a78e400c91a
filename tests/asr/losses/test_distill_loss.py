import pytest
import torch
import torch.nn.functional as F

from espnet_speechllm.asr.losses.distill_loss import response_kl

B, L, V = 3, 5, 11


def _logits(seed):
    torch.manual_seed(seed)
    return torch.randn(B, L, V) * 3


def _mask():
    lens = torch.tensor([5, 2, 3])
    return torch.arange(L)[None, :] < lens[:, None]


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_matches_kl_div_on_the_masked_positions(temperature):
    s, t, m = _logits(0), _logits(1), _mask()
    ref = F.kl_div(
        F.log_softmax(s[m] / temperature, -1),
        F.softmax(t[m] / temperature, -1),
        reduction="batchmean",
    ) * temperature**2
    got = response_kl(s, t, m, temperature)
    torch.testing.assert_close(got, ref)
    # By hand: mean over the 10 positions of sum_v p_t (log p_t - log p_s), times T^2.
    pt = F.softmax(t / temperature, -1)
    kl = (pt * (F.log_softmax(t / temperature, -1) - F.log_softmax(s / temperature, -1))).sum(-1)
    torch.testing.assert_close(got, kl[m].sum() / m.sum() * temperature**2)
    assert got > 0


def test_zero_when_student_equals_teacher():
    s = _logits(0)
    assert response_kl(s, s.clone(), _mask(), 2.0).abs() < 1e-6


def test_masked_positions_do_not_count():
    s, t, m = _logits(0), _logits(1), _mask()
    s2 = s.clone()
    s2[~m] = torch.randn(int((~m).sum()), V) * 10
    torch.testing.assert_close(response_kl(s2, t, m), response_kl(s, t, m))
    s3 = s.clone()
    s3[0, 0, 0] += 5.0  # one logit of a counted position
    assert not torch.allclose(response_kl(s3, t, m), response_kl(s, t, m))
    empty = response_kl(s.requires_grad_(), t, torch.zeros(B, L, dtype=torch.bool))
    assert float(empty.detach()) == 0.0 and empty.requires_grad


def test_gradient_only_into_the_student():
    s = _logits(0).requires_grad_()
    t = _logits(1).requires_grad_()
    response_kl(s, t, _mask(), 2.0).backward()
    assert t.grad is None
    assert s.grad is not None and s.grad[_mask()].abs().sum() > 0
    assert s.grad[~_mask()].abs().sum() == 0


def test_bad_inputs():
    s, m = _logits(0), _mask()
    with pytest.raises(ValueError, match="distill_temperature=0"):
        response_kl(s, s, m, 0)
    with pytest.raises(ValueError, match="student .* != teacher"):
        response_kl(s, s[:, :2], m)
    with pytest.raises(ValueError, match="mask"):
        response_kl(s, s, m[:, :2])
