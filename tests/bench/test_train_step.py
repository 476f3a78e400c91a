"""bench/train_step.py: one exp's row in-process (the CLI runs it in a subprocess)."""

import pytest

from bench.train_step import main, measure


def test_measure_times_a_trained_exp(trained_exp, an4_dirs):
    row = measure(trained_exp, "valid.acc.ave.pth", an4_dirs / "test", batch=2, steps=2)
    assert row["exp"] == trained_exp.name and row["weights"].endswith("valid.acc.ave.pth")
    assert 0 < row["trainable_m"] <= row["params_m"]
    assert row["step_s"] > 0 and row["step_median_s"] >= row["step_s"]
    assert row["utts_per_s"] == pytest.approx(2 / row["step_s"])
    assert row["llm_input_len"] > 1  # prefix (prompt + audio) + text + eos
    assert row["peak_rss_mib"] > 100


def test_missing_config_names_the_exp(tmp_path):
    with pytest.raises(FileNotFoundError, match="--exp nope: no config.yaml"):
        main(["--recipe", str(tmp_path), "--exp", "nope"])
