"""bench/streaming.py's pure parts: token emission lags, the rows of ``measure`` on fake
decoders, decoding options, the parser."""

from types import SimpleNamespace

import pytest
import torch

from bench.streaming import decode_options, emission_lags, get_parser, measure

WORDS = {1: "a", 2: "b", 3: "c"}


def _hyp(ids):
    return SimpleNamespace(text=" ".join(WORDS[t] for t in ids), token_ids=list(ids))


class _Offline:
    """Decodes utterance k (k samples long, in thousands) to ``OUT[k]``."""

    fs = 1000
    OUT = {2: [1, 2], 3: [], 4: [1, 2, 3]}

    def __call__(self, x):
        return [_hyp(self.OUT[x.numel() // 1000])]


class _Online(_Offline):
    """Partials: the first token of the offline 1-best; final: the offline one but utterance 4
    (``[1, 2]``)."""

    def chunk_samples(self, chunk_ms):
        return int(chunk_ms)

    def reset(self):
        self.seen = 0

    def __call__(self, chunk, is_final=False):
        self.seen += chunk.numel()
        ids = self.OUT[self.seen // 1000] if is_final else [1]
        return [_hyp([1, 2] if is_final and self.seen == 4000 else ids)]


def test_a_token_counts_as_emitted_once_no_later_partial_changes_it():
    calls = [
        dict(ids=[5], done=1.0),
        dict(ids=[5, 7], done=2.0),
        dict(ids=[5, 8], done=3.0),  # token 1 revised here
        dict(ids=[5, 8, 9], done=4.5),  # the final call
    ]
    lags = emission_lags(calls, ends=[0.5, 1.5, 4.0])
    assert lags == pytest.approx([0.5, 1.5, 0.5])


def test_decode_options_keep_speech2text_keys(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text("beam_size: 4\nctc_weight: 0.5\nbatch_size: 8\n")
    assert decode_options(path) == dict(beam_size=4, ctc_weight=0.5)


def test_parser_defaults():
    args = get_parser().parse_args([])
    assert args.chunk_ms == [320.0, 640.0, 1000.0] and args.n_utts == 200


def test_measure_rows_count_words_same_as_offline_and_empty_hypotheses():
    utts = [(f"u{k}", torch.zeros(k * 1000), ref) for k, ref in ((2, "a b"), (3, "a"), (4, "a b c"))]
    rows = measure("fake", _Offline(), _Online(), utts, [1000.0],
                   lambda x, ids: [0.5 * (i + 1) for i in range(len(ids))])  # fmt: skip
    off, on = rows
    assert (off["mode"], on["mode"], on["chunk_ms"]) == ("offline", "streaming", 1000.0)
    assert off["wer"] == pytest.approx(100 * 1 / 6)  # utterance 3 decoded to "": its 1 word an error
    assert on["wer"] == pytest.approx(100 * 2 / 6)  # + "c" dropped from utterance 4
    assert (off["same_as_offline"], on["same_as_offline"]) == (3, 2)
    assert off["empty"] == on["empty"] == 1
    assert on["latency_p50"] >= 0 and on["lag_p50"] is not None and off["lag_p50"] is None
