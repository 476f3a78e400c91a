"""bench/streaming.py's pure parts: token emission lags, decoding options, the parser."""

import pytest

from bench.streaming import decode_options, emission_lags, get_parser


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
