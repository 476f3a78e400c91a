"""Pure tensor functions behind the compressors and projectors.

Every function is tensor in, tensor out, with no module state and no config, so the
compression logic can be tested on hand-written tiny cases.
"""

from typing import Tuple

import torch

CTC_MODES = ("blank_removal", "frame_averaging")


def length_mask(lens: torch.Tensor, max_len: int) -> torch.Tensor:
    """True on valid frames.  (B,), int -> (B, max_len) bool

    >>> length_mask(torch.tensor([2, 0]), 3).tolist()
    [[True, True, False], [False, False, False]]
    """
    return torch.arange(max_len, device=lens.device) < lens[:, None]


def zero_padding(hs: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
    """Set the frames past each length to zero.  (B, T, D), (B,) -> (B, T, D)

    >>> zero_padding(torch.ones(1, 3, 1), torch.tensor([2])).squeeze(-1).tolist()
    [[1.0, 1.0, 0.0]]
    """
    # masked_fill, not a multiplication: padding may hold inf/NaN, and NaN * 0 is NaN.
    return hs.masked_fill(~length_mask(lens, hs.size(1))[..., None], 0.0)


def stack_frames(
    hs: torch.Tensor, lens: torch.Tensor, stride: int
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Concatenate each `stride` consecutive frames.

    (B, T, D), (B,) -> (B, ceil(T / stride), stride * D), (B,)

    The tail is padded with zero frames, and so are the frames past each length.

    >>> hs = torch.tensor([[[1.0], [2.0], [3.0]]])
    >>> ys, ylens = stack_frames(hs, torch.tensor([3]), 2)
    >>> ys.tolist(), ylens.tolist()
    ([[[1.0, 2.0], [3.0, 0.0]]], [2])
    """
    bsz, tmax, dim = hs.shape
    n_out = -(-tmax // stride)
    hs = zero_padding(hs, lens)
    hs = torch.nn.functional.pad(hs, (0, 0, 0, n_out * stride - tmax))
    ys = hs.reshape(bsz, n_out, stride * dim)  # (B, T'*s, D) -> (B, T', s*D)
    return ys, torch.div(lens + stride - 1, stride, rounding_mode="floor")


def ctc_segment_ids(
    pred: torch.Tensor, lens: torch.Tensor, blank: int, mode: str
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Map each frame to its output segment from CTC argmax labels.

    (B, T), (B,) -> (B, T), (B,)

    `blank_removal` keeps every non-blank frame as its own segment (repeats included).
    `frame_averaging` makes one segment of each run of equal labels, blank runs too.
    Dropped and padded frames get segment -1. An utterance may get 0 segments.

    Args:
        pred: Frame-wise CTC argmax labels (B, T).
        lens: Valid frames per utterance (B,).
        blank: CTC blank index.
        mode: `blank_removal` or `frame_averaging`.

    Returns:
        Segment id per frame (B, T) and segment count per utterance (B,).

    >>> pred, lens = torch.tensor([[0, 0, 5, 5, 0, 7, 9]]), torch.tensor([6])
    >>> [s.tolist() for s in ctc_segment_ids(pred, lens, 0, "frame_averaging")]
    [[[0, 0, 1, 1, 2, 3, -1]], [4]]
    >>> [s.tolist() for s in ctc_segment_ids(pred, lens, 0, "blank_removal")]
    [[[-1, -1, 0, 1, -1, 2, -1]], [3]]
    """
    valid = length_mask(lens, pred.size(1))
    if mode == "blank_removal":
        starts = valid & (pred != blank)
    elif mode == "frame_averaging":
        starts = torch.ones_like(valid)
        starts[:, 1:] = pred[:, 1:] != pred[:, :-1]
        starts &= valid
    else:
        raise ValueError(f"mode must be one of {CTC_MODES}, got {mode!r}")
    keep = starts if mode == "blank_removal" else valid
    seg = torch.where(keep, starts.long().cumsum(dim=1) - 1, -1)
    return seg, starts.sum(dim=1)


def ctc_closed_frames(
    pred: torch.Tensor, lens: torch.Tensor, blank: int, mode: str
) -> torch.Tensor:
    """Frames whose segments are final: later frames cannot change them.  (B, T), (B,) -> (B,)

    Streaming: ``pred`` holds the labels of the frames seen so far. Under
    `frame_averaging` a run ends where the label changes, so the last run stays open
    (the next frame may continue it); every frame before it is final. Under
    `blank_removal` each non-blank frame is a segment of its own, final at once.
    ``ctc_segment_ids(pred, closed)`` then gives exactly the first segments of the
    whole utterance's ``ctc_segment_ids``.

    >>> pred, lens = torch.tensor([[0, 5, 5, 0, 0, 7]]), torch.tensor([5])
    >>> ctc_closed_frames(pred, lens, 0, "frame_averaging").tolist()
    [3]
    >>> ctc_closed_frames(pred, lens, 0, "blank_removal").tolist()
    [5]
    """
    if mode == "blank_removal":
        return lens.clone()
    if mode != "frame_averaging":
        raise ValueError(f"mode must be one of {CTC_MODES}, got {mode!r}")
    valid = length_mask(lens, pred.size(1))
    starts = torch.zeros_like(valid)
    starts[:, 1:] = pred[:, 1:] != pred[:, :-1]
    starts &= valid
    idx = torch.arange(pred.size(1), device=pred.device).expand_as(pred)
    # The start of the last run (0 when one run covers every frame, or none).
    return torch.where(starts, idx, 0).max(dim=1).values if pred.size(1) else lens * 0


def segment_mean(hs: torch.Tensor, seg: torch.Tensor, n_max: int) -> torch.Tensor:
    """Average the frames sharing a segment id; -1 frames are ignored.

    (B, T, D), (B, T) -> (B, n_max, D)

    Segments with no frame (past each utterance's count) come out as zero rows.

    >>> hs = torch.tensor([[[1.0], [3.0], [5.0], [7.0]]])
    >>> segment_mean(hs, torch.tensor([[0, 0, 1, -1]]), 3).squeeze(-1).tolist()
    [[2.0, 5.0, 0.0]]
    """
    bsz, _, dim = hs.shape
    if seg.numel() > 0 and int(seg.max()) >= n_max:
        raise ValueError(f"segment id {int(seg.max())} does not fit n_max={n_max}")
    # One flat row per (utterance, segment), plus a last row that collects the
    # ignored frames, so a single index_add handles the whole batch.
    offsets = torch.arange(bsz, device=seg.device)[:, None] * n_max
    flat = torch.where(seg >= 0, seg + offsets, bsz * n_max).reshape(-1)
    # Accumulate in at least fp32: bf16 counts are inexact above 256 frames.
    acc = hs.reshape(-1, dim).to(torch.promote_types(hs.dtype, torch.float32))
    sums = acc.new_zeros(bsz * n_max + 1, dim).index_add(0, flat, acc)
    counts = acc.new_zeros(bsz * n_max + 1).index_add(0, flat, acc.new_ones(len(flat)))
    means = sums[:-1] / counts[:-1].clamp(min=1.0)[:, None]
    return means.reshape(bsz, n_max, dim).to(hs.dtype)
