import pytest
import torch

from espnet_speechllm.asr.generation.length_cap_processor import RowLengthCapProcessor

EOS = 2


def test_rows_past_their_cap_can_only_end():
    proc = RowLengthCapProcessor([1, 3], eos=EOS)
    scores = torch.randn(2, 5)
    assert torch.equal(proc(torch.zeros(2, 4, dtype=torch.long), scores), scores)  # step 0
    out = proc(torch.zeros(2, 5, dtype=torch.long), scores)  # 1 new token each
    assert torch.equal(out[1], scores[1])  # cap 3 not reached
    assert out[0, EOS] == 0 and torch.isinf(out[0, [0, 1, 3, 4]]).all()
    out = proc(torch.zeros(2, 7, dtype=torch.long), scores)  # 3 new tokens
    assert (out.argmax(-1) == EOS).all()


def test_beams_follow_their_utterance():
    proc = RowLengthCapProcessor([0, 2], eos=EOS, num_beams=2)
    out = proc(torch.zeros(4, 3, dtype=torch.long), torch.zeros(4, 5))
    assert out[:2].argmax(-1).tolist() == [EOS, EOS] and torch.isinf(out[:2, 0]).all()
    assert torch.equal(out[2:], torch.zeros(2, 5))


def test_row_count_mismatch_and_negative_caps():
    with pytest.raises(ValueError, match="2 capped rows, but generate has 3"):
        RowLengthCapProcessor([1, 1], eos=EOS)(torch.zeros(3, 1, dtype=torch.long), torch.zeros(3, 5))
    with pytest.raises(ValueError, match=">= 0"):
        RowLengthCapProcessor([-1], eos=EOS)


def test_rate_cap_is_ceil_rate_times_seconds_plus_4():
    from espnet_speechllm.asr.generation.length_cap_processor import rate_cap

    assert rate_cap(16000, 16000, 8) == 12
    assert rate_cap(5000, 16000, 8) == 7  # ceil(2.5) + 4
    assert rate_cap(0, 16000, 8) == 4
