import torch

from espnet_speechllm.asr.layers.sequence_packing import (
    left_pad,
    pack_right,
    padding_mask,
    positions_from_mask,
    prefix_lm_mask,
)


def test_pack_right_hand_case():
    prefix = torch.tensor([[1.0, 2.0, 0.0], [3.0, 4.0, 5.0]])[..., None]
    text = torch.tensor([[7.0, 0.0], [8.0, 9.0]])[..., None]
    out, lens = pack_right(prefix, torch.tensor([2, 3]), text, torch.tensor([1, 2]))
    assert out[..., 0].tolist() == [[1, 2, 7, 0, 0], [3, 4, 5, 8, 9]]
    assert lens.tolist() == [3, 5]


def test_pack_right_ignores_garbage_in_padding():
    prefix = torch.tensor([[1.0, 99.0]])[..., None]
    text = torch.tensor([[7.0, 99.0]])[..., None]
    out, _ = pack_right(prefix, torch.tensor([1]), text, torch.tensor([1]))
    assert out[..., 0].tolist() == [[1, 7, 0, 0]]


def test_left_pad_and_positions():
    xs = torch.tensor([[1.0, 2.0, 0.0], [3.0, 4.0, 5.0]])[..., None]
    out = left_pad(xs, torch.tensor([2, 3]))
    assert out[..., 0].tolist() == [[0, 1, 2], [3, 4, 5]]
    mask = padding_mask(torch.tensor([2, 3]), 3, left=True)
    assert mask.tolist() == [[0, 1, 1], [1, 1, 1]]
    assert positions_from_mask(mask).tolist() == [[0, 0, 1], [0, 1, 2]]


def test_prefix_lm_mask_hand_case():
    valid = torch.tensor([[1, 1, 1, 0]])
    bidir = torch.tensor([[True, True, False, False]])
    allowed = prefix_lm_mask(valid, bidir, torch.float32)[0, 0] == 0
    assert allowed.int().tolist() == [
        [1, 1, 0, 0],
        [1, 1, 0, 0],
        [1, 1, 1, 0],
        [1, 1, 1, 1],  # padded query: valid keys + its diagonal, never an empty row
    ]


def test_causal_mask_when_no_bidir():
    valid = torch.ones(1, 3, dtype=torch.long)
    allowed = prefix_lm_mask(valid, torch.zeros(1, 3, dtype=torch.bool), torch.float32) == 0
    assert torch.equal(allowed[0, 0], torch.ones(3, 3, dtype=torch.bool).tril())
