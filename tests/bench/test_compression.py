"""The compression table's goal column."""

from bench.compression import goal_cell


def test_goal_cell_checks_both_goals():
    row = dict(compressor="stack", prefix_shorter_x=4.2, step_faster_x=1.5)
    assert goal_cell(row, ctc_trained=False) == "yes / no"
    row.update(prefix_shorter_x=3.9, step_faster_x=2.0)
    assert goal_cell(row, ctc_trained=False) == "no / yes"


def test_goal_cell_refuses_an_untrained_ctc_head():
    # An untrained CTC head collapses nearly everything to blank: a huge but meaningless ratio.
    row = dict(compressor="ctc", prefix_shorter_x=12.7, step_faster_x=2.1)
    assert goal_cell(row, ctc_trained=False) == "n/a (CTC head not trained)"
    assert goal_cell(row, ctc_trained=True) == "yes / yes"


def test_prefix_lengths_count_audio_positions_per_transcript_token():
    import torch

    from bench import model_configs as mc
    from bench.compression import prefix_lengths

    torch.manual_seed(0)
    model = mc.build_model(compressor="stack", compressor_conf=dict(stride=4))
    tok = model.decoder.tokenizer
    texts = ["a short one", "and a somewhat longer transcript here"]
    utts = [("u1", 0.1 * torch.randn(16000), texts[0]), ("u2", 0.1 * torch.randn(32000), texts[1])]
    got = prefix_lengths(model, utts, "cpu")
    n_tok = [len(tok(t, add_special_tokens=False).input_ids) for t in texts]
    assert got["tokens"] == sum(n_tok) / 2
    # stack x4: a quarter of the encoder frames (rounded up per utterance)
    assert got["enc_frames"] / 4 <= got["audio_pos"] <= got["enc_frames"] / 4 + 1
    assert got["audio_per_token"] == 2 * got["audio_pos"] / sum(n_tok)
    assert got["prefix"] - got["audio_pos"] == len(sum(model.prompt.ids(model.prompt.eval_prompt), []))
