"""FLOP counting and GEMM peak of bench/mfu.py on tiny inputs."""

import pytest
import torch

from bench.mfu import count_flops, gemm_peak


@pytest.mark.parametrize("input_grad", [False, True])
def test_count_flops_linear_matches_analytic(input_grad):
    b, i, o = 3, 8, 5
    lin = torch.nn.Linear(i, o)
    x = torch.randn(b, i, requires_grad=input_grad)
    total, per_module = count_flops(lambda: lin(x).sum().backward())
    # forward 2*b*i*o; backward: weight grad 2*b*i*o, + input grad 2*b*i*o if needed
    assert total == (3 if input_grad else 2) * 2 * b * i * o
    assert per_module["Linear"] == total


def test_count_flops_sdpa_forward_is_two_bmms():
    b, h, length, e = 1, 2, 5, 4
    q = torch.randn(b, h, length, e)
    mask = torch.zeros(b, 1, length, length)
    sdpa = torch.nn.functional.scaled_dot_product_attention
    total, _ = count_flops(lambda: sdpa(q, q, q, attn_mask=mask))
    # Q K^T and P V: 2 * (2 * b * h * L * L * E); counted even on the CPU kernel
    assert total == 4 * b * h * length * length * e


def test_count_flops_per_module_names_children():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    total, per_module = count_flops(lambda: model(torch.ones(1, 4)))
    assert total == 2 * 4 * 4 + 2 * 4 * 2
    assert per_module["Sequential.0"] == 32 and per_module["Sequential.2"] == 16


def test_gemm_peak_reports_each_size():
    best, per_size = gemm_peak("cpu", torch.float32, [16, 32], seconds=0.01)
    assert set(per_size) == {16, 32}
    assert best == max(per_size.values()) > 0
