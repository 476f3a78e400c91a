import math

import numpy as np
import pytest
import torch

from espnet_speechllm.analysis.alignment import cosine_matrix, monotonicity, plot_alignment


def test_cosine_matrix_values_and_shape():
    audio = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    text = torch.tensor([[3.0, 0.0], [0.0, -1.0]])
    sim = cosine_matrix(audio, text)
    assert sim.shape == (3, 2)
    np.testing.assert_allclose(sim, [[1, 0], [0, -1], [0.5**0.5, -(0.5**0.5)]], atol=1e-6)


def test_diagonal_alignment_is_monotonic():
    sim = np.eye(5)
    stats = monotonicity(sim)
    assert stats["nondecreasing"] == 1.0
    assert stats["spearman"] == pytest.approx(1.0)
    assert stats["mean_max_cos"] == 1.0


def test_reversed_alignment():
    stats = monotonicity(np.eye(4)[::-1].copy())
    assert stats["nondecreasing"] == 0.0
    assert stats["spearman"] == pytest.approx(-1.0)


def test_partly_monotonic_path_with_ties():
    # argmax path over tokens: 0, 2, 1, 3 -> steps +2, -1, +2: 2 of 3 non-decreasing
    sim = np.zeros((4, 4))
    for j, t in enumerate([0, 2, 1, 3]):
        sim[t, j] = 0.5
    stats = monotonicity(sim)
    assert stats["nondecreasing"] == pytest.approx(2 / 3)
    assert stats["spearman"] == pytest.approx(0.8)
    assert stats["mean_max_cos"] == pytest.approx(0.5)


def test_constant_path_has_no_correlation():
    stats = monotonicity(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]))
    assert stats["nondecreasing"] == 1.0
    assert math.isnan(stats["spearman"])


def test_too_few_tokens_is_an_error():
    with pytest.raises(ValueError, match=r"L >= 2"):
        monotonicity(np.ones((3, 1)))


def test_plot_writes_png(tmp_path):
    sim = np.random.default_rng(0).uniform(-1, 1, (12, 5))
    out = tmp_path / "sub" / "u1.png"
    plot_alignment(sim, list("abcde"), out, "u1", monotonicity(sim))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
