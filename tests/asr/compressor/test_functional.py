import doctest

import pytest
import torch

from espnet_speechllm.asr.compressor import functional
from espnet_speechllm.asr.compressor.functional import (
    ctc_segment_ids,
    length_mask,
    segment_mean,
    stack_frames,
    zero_padding,
)


def test_docstring_examples_hold():
    result = doctest.testmod(functional)
    assert result.attempted >= 6
    assert result.failed == 0


def test_length_mask():
    assert length_mask(torch.tensor([3, 1, 0]), 3).tolist() == [
        [True, True, True],
        [True, False, False],
        [False, False, False],
    ]


def test_zero_padding_clears_nan_and_inf():
    hs = torch.tensor([[[1.0], [float("nan")], [float("inf")]]])
    assert zero_padding(hs, torch.tensor([1])).flatten().tolist() == [1.0, 0.0, 0.0]


def test_stack_frames_values_and_tail():
    hs = torch.arange(1.0, 11.0).reshape(2, 5, 1)  # [1..5], [6..10]
    ys, ylens = stack_frames(hs, torch.tensor([5, 3]), 2)
    assert ylens.tolist() == [3, 2]
    assert ys.tolist() == [
        [[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]],
        [[6.0, 7.0], [8.0, 0.0], [0.0, 0.0]],
    ]


def test_stack_frames_keeps_feature_order():
    hs = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    ys, _ = stack_frames(hs, torch.tensor([2]), 2)
    assert ys.tolist() == [[[1.0, 2.0, 3.0, 4.0]]]


# (labels, length, frame_averaging segments, blank_removal segments); blank = 0
SEGMENT_CASES = {
    "blank_only": ([0, 0, 0], 3, [0, 0, 0], [-1, -1, -1]),
    "repeats": ([4, 4, 4, 2, 2], 5, [0, 0, 0, 1, 1], [0, 1, 2, 3, 4]),
    "all_distinct": ([1, 2, 3, 4], 4, [0, 1, 2, 3], [0, 1, 2, 3]),
    "mixed": (
        [0, 3, 3, 0, 0, 3, 5],
        7,
        [0, 1, 1, 2, 2, 3, 4],
        [-1, 0, 1, -1, -1, 2, 3],
    ),
    "padding": ([7, 7, 0, 7, 7], 2, [0, 0, -1, -1, -1], [0, 1, -1, -1, -1]),
    "empty": ([3, 3], 0, [-1, -1], [-1, -1]),
}


@pytest.mark.parametrize("case", sorted(SEGMENT_CASES))
@pytest.mark.parametrize("mode", ["frame_averaging", "blank_removal"])
def test_ctc_segment_ids_hand_cases(case, mode):
    labels, length, averaging, removal = SEGMENT_CASES[case]
    expected = averaging if mode == "frame_averaging" else removal
    seg, n_seg = ctc_segment_ids(
        torch.tensor([labels]), torch.tensor([length]), 0, mode
    )
    assert seg.tolist() == [expected]
    assert n_seg.tolist() == [max(expected) + 1]


def test_ctc_segment_ids_batch_equals_rows():
    cases = list(SEGMENT_CASES.values())
    width = max(len(c[0]) for c in cases)
    pred = torch.tensor([c[0] + [9] * (width - len(c[0])) for c in cases])
    lens = torch.tensor([c[1] for c in cases])
    seg, n_seg = ctc_segment_ids(pred, lens, 0, "frame_averaging")
    for row, (_, _, averaging, _) in enumerate(cases):
        assert seg[row].tolist() == averaging + [-1] * (width - len(averaging))
        assert int(n_seg[row]) == max(averaging) + 1


def test_ctc_segment_ids_other_blank_index():
    seg, n_seg = ctc_segment_ids(
        torch.tensor([[5, 0, 5]]), torch.tensor([3]), 5, "blank_removal"
    )
    assert seg.tolist() == [[-1, 0, -1]] and n_seg.tolist() == [1]


def test_ctc_segment_ids_unknown_mode():
    with pytest.raises(ValueError, match="mode.*blank_removal.*frame_averaging"):
        ctc_segment_ids(
            torch.zeros(1, 2, dtype=torch.long), torch.tensor([2]), 0, "avg"
        )


def test_segment_mean_values_and_zero_rows():
    hs = torch.tensor(
        [[[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]], [[2.0, 0.0], [4.0, 0.0], [9.0, 9.0]]]
    )
    seg = torch.tensor([[0, 0, 1], [-1, 0, -1]])
    out = segment_mean(hs, seg, 2)
    assert out.tolist() == [[[2.0, 20.0], [5.0, 50.0]], [[4.0, 0.0], [0.0, 0.0]]]


def test_segment_mean_gradient_is_one_over_segment_size():
    hs = torch.ones(1, 4, 1, requires_grad=True)
    segment_mean(hs, torch.tensor([[0, 0, 0, 1]]), 2).sum().backward()
    assert torch.allclose(hs.grad.flatten(), torch.tensor([1 / 3, 1 / 3, 1 / 3, 1.0]))


def test_segment_mean_empty_outputs():
    hs = torch.randn(2, 3, 4)
    assert segment_mean(hs, torch.full((2, 3), -1), 0).shape == (2, 0, 4)
    no_frames = torch.zeros(2, 0, dtype=torch.long)
    assert segment_mean(torch.randn(2, 0, 4), no_frames, 0).shape == (2, 0, 4)


def test_segment_mean_rejects_small_n_max():
    with pytest.raises(ValueError, match="n_max=1"):
        segment_mean(torch.randn(1, 2, 3), torch.tensor([[0, 1]]), 1)


def test_segment_mean_accumulates_long_runs_exactly_in_bfloat16():
    hs = torch.zeros(1, 1000, 2, dtype=torch.bfloat16)
    hs[0, 500:] = 2.0  # a bf16 running sum stalls at 512 and a bf16 count at 256
    out = segment_mean(hs, torch.zeros(1, 1000, dtype=torch.long), 1)
    assert out.dtype == torch.bfloat16
    assert out.float().tolist() == [[[1.0, 1.0]]]
