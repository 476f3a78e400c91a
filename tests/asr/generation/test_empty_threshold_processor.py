import math

import pytest
import torch

from espnet_speechllm.asr.generation.empty_threshold_processor import EmptyThresholdProcessor

EOS = 2


def _scores(p_eos: float) -> torch.Tensor:
    """(1, 5) logits whose softmax gives eos ``p_eos`` and the rest equal shares."""
    p = torch.full((5,), (1 - p_eos) / 4)
    p[EOS] = p_eos
    return p.log()[None]


def test_first_step_ends_only_at_or_above_the_threshold():
    proc = EmptyThresholdProcessor(EOS, threshold=0.5)
    scores = torch.cat([_scores(0.6), _scores(0.3), _scores(0.5)])
    out = proc(torch.zeros(3, 0, dtype=torch.long), scores)
    assert out.argmax(-1).tolist()[0] == EOS and torch.isinf(out[0, [0, 1, 3, 4]]).all()
    assert out[0, EOS].item() == pytest.approx(math.log(0.6), abs=1e-6)  # its score: log p(eos)
    assert torch.isinf(out[1, EOS]) and out[1].argmax().item() != EOS
    assert torch.allclose(out[1, [0, 1, 3, 4]], torch.log_softmax(scores[1], -1)[[0, 1, 3, 4]])
    assert out[2].argmax().item() == EOS  # p == threshold: empty


def test_later_steps_are_the_plain_log_softmax():
    proc = EmptyThresholdProcessor(EOS, threshold=0.99)
    proc(torch.zeros(1, 4, dtype=torch.long), _scores(0.1))
    scores = _scores(0.9)
    out = proc(torch.zeros(1, 5, dtype=torch.long), scores)
    assert torch.allclose(out, torch.log_softmax(scores, -1)) and out.argmax().item() == EOS


def test_threshold_outside_0_1_is_refused():
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=f"--empty_threshold {bad} must be in"):
            EmptyThresholdProcessor(EOS, bad)
    assert EmptyThresholdProcessor(EOS, 1.0).threshold == 1.0
