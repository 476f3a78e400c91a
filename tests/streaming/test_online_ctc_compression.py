"""Online CTC compression: the final segments only, and at the end exactly the offline output."""

import pytest
import torch

from espnet_speechllm.asr.compressor.ctc_compressor import CTCCompressor
from espnet_speechllm.asr.compressor.functional import ctc_closed_frames


@pytest.mark.parametrize(
    "pred, n, mode, closed",
    [
        ([0, 0, 5, 5, 0, 7], 6, "frame_averaging", 5),  # the run "7" is open
        ([5, 5, 5], 3, "frame_averaging", 0),  # one open run
        ([5, 5, 0, 0], 2, "frame_averaging", 0),  # padding does not close it
        ([1, 2, 3], 3, "frame_averaging", 2),  # all distinct: the last is open
        ([0, 0, 0], 3, "blank_removal", 3),  # blanks are dropped: nothing to wait for
        ([5, 5, 7], 3, "blank_removal", 3),  # every frame is its own segment
        ([], 0, "frame_averaging", 0),
    ],
)
def test_ctc_closed_frames(pred, n, mode, closed):
    out = ctc_closed_frames(torch.tensor([pred], dtype=torch.long).view(1, -1), torch.tensor([n]), 0, mode)
    assert out.tolist() == [closed]


def _stream(comp: CTCCompressor, hs: torch.Tensor, chunk: int):
    """Feed (1, T, D) in chunks as StreamingMixin does; the positions after each chunk."""
    pending, outs = hs[:, :0], []
    for start in range(0, hs.size(1), chunk):
        x = torch.cat([pending, hs[:, start : start + chunk]], dim=1)
        final = start + chunk >= hs.size(1)
        y, y_lens, used = comp.forward_online(x, torch.tensor([x.size(1)]), final)
        assert y.size(1) == int(y_lens[0])
        pending = x[:, int(used[0]) :]
        outs.append(y)
    return outs


@pytest.mark.parametrize("mode", ["frame_averaging", "blank_removal"])
@pytest.mark.parametrize("chunk", [1, 3, 7, 50])
def test_online_equals_offline_at_the_end(mode, chunk):
    torch.manual_seed(0)
    comp = CTCCompressor(8, vocab_size=3, mode=mode).eval()  # 4 classes: runs and blanks
    hs = torch.randn(1, 40, 8)
    offline, off_lens = comp(hs, torch.tensor([40]))
    outs = _stream(comp, hs, chunk)
    online = torch.cat(outs, dim=1)
    assert online.size(1) == int(off_lens[0]) > 0
    torch.testing.assert_close(online, offline[:, : online.size(1)], rtol=0, atol=1e-6)
    # Before the end, what was emitted is already the offline prefix (never revised).
    n = 0
    for y in outs[:-1]:
        torch.testing.assert_close(y, offline[:, n : n + y.size(1)], rtol=0, atol=1e-6)
        n += y.size(1)


def test_open_segment_is_held_back():
    comp = CTCCompressor(4, vocab_size=3, mode="frame_averaging").eval()
    # Make the head's argmax follow the first feature dimension's sign: blank vs class 1.
    with torch.no_grad():
        comp.ctc.ctc_lo.weight.zero_()
        comp.ctc.ctc_lo.bias.zero_()
        comp.ctc.ctc_lo.weight[1, 0] = 1.0
    hs = torch.zeros(1, 5, 4)
    hs[0, 2:, 0] = 1.0  # labels 0 0 1 1 1: the run of 1s may go on
    y, y_lens, used = comp.forward_online(hs, torch.tensor([5]), is_final=False)
    assert y_lens.tolist() == [1] and used.tolist() == [2]
    y, y_lens, used = comp.forward_online(hs, torch.tensor([5]), is_final=True)
    assert y_lens.tolist() == [2] and used.tolist() == [5]
