"""bench/decode_batch1: both paths decode every utterance, in alternating order."""

import torch

from bench.decode_batch1 import interleaved


def test_interleaved_alternates_which_path_goes_first():
    calls = []
    paths = {n: (lambda key, wav, n=n: calls.append((n, key)) or [len(key)]) for n in ("a", "b")}
    utts = [(k, torch.zeros(1), "") for k in ("u1", "u22", "u333")]
    res = interleaved(paths, utts, repeats=2)
    firsts = [calls[i][0] for i in range(0, len(calls), 2)]
    assert firsts == ["a", "b", "a", "b", "a", "b"]  # per utterance, and shifted per pass
    assert all(calls[i][1] == calls[i + 1][1] for i in range(0, len(calls), 2))
    for n in paths:
        assert res[n]["ids"] == [[2], [3], [4]]  # first pass only
        assert len(res[n]["per_utt"]) == 6 and res[n]["seconds"] >= sum(res[n]["per_utt"]) * 0.999
