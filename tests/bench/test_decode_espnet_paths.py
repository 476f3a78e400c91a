import pytest

from bench.decode_espnet_paths import goals, get_parser, same_count, summarize


def _run(beam, batch, seconds, ids):
    return dict(beam=beam, batch=batch, seconds=seconds, ids=ids, texts=[str(i) for i in ids])


def _results():
    ids = [[1, 2], [3]]
    return {
        "ours": dict(peak_rss_mib=100.0, meta=dict(params=5), runs=[
            _run(1, 1, 2.0, ids), _run(1, 8, 1.0, [[1, 2], [4]])]),
        "espnet_hf": dict(peak_rss_mib=120.0, meta=dict(params=5), runs=[
            _run(1, 1, 6.0, ids)]),
    }  # fmt: skip


def test_summarize_ratios_and_identity():
    rows = summarize(_results(), audio_s=10.0)
    by = {(r["path"], r["batch"]): r for r in rows}
    assert by["ours", 1]["rtf"] == pytest.approx(0.2)
    assert by["ours", 1]["tokens_per_s"] == pytest.approx(1.5)
    assert by["ours", 8]["speedup_vs_espnet_hf"] == pytest.approx(6.0)
    assert by["ours", 8]["same_1best_as_ours_batch1"] == 1
    assert by["espnet_hf", 1]["same_1best_as_ours_batch1"] == 2
    assert by["espnet_hf", 1]["speedup_vs_espnet_hf"] == pytest.approx(1.0)


def test_goals_lines():
    lines = goals(summarize(_results(), audio_s=10.0))
    assert "best 6.00x at batch 8, batch 1 3.00x; 1-best identical 2/2: MET" in lines[0]
    assert lines[1].endswith("0.1000 at batch 8: NOT MET")
    res = _results()
    res["espnet_hf"]["runs"][0]["ids"] = [[1, 2], [5]]
    assert "1-best identical 1/2: NOT MET" in goals(summarize(res, audio_s=10.0))[0]


def test_same_count_length_mismatch():
    with pytest.raises(ValueError, match="2 vs 1 utterances"):
        same_count([[1], [2]], [[1]])


def test_parser_defaults():
    args = get_parser().parse_args([])
    assert args.n_utts == 32 and args.batch_sizes == [1, 8, 32] and args.beams == [1, 4]
    assert args.paths == ["ours", "espnet_hf", "espnet_ctc_att"]
