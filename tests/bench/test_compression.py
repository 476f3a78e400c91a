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
