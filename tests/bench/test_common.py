"""Pure parts of bench/common.py: table, JSON record, machine line, memory, audio."""

import json

import pytest
import torch

from bench.common import (
    PeakMemory,
    check_result,
    format_table,
    machine_info,
    machine_line,
    result,
    timed,
    write_result,
)


def test_format_table_aligns_numbers_and_rounds_floats():
    table = format_table(["variant", "ms", "ok"], [["a", 1.23456, True], ["b", 20, False]])
    assert table.splitlines() == [
        "| variant | ms | ok |",
        "|---|---:|---|",
        "| a | 1.235 | True |",
        "| b | 20 | False |",
    ]


def test_format_table_rejects_ragged_rows():
    with pytest.raises(ValueError, match="has 1 cells, expected 2"):
        format_table(["a", "b"], [["x"]])


def test_machine_line_names_cpu_cores_threads_torch():
    info = machine_info("cpu")
    line = machine_line(info)
    assert line.startswith("# machine: ")
    for text in (info["cpu"], f"{info['cores']} cores", f"{torch.get_num_threads()} torch threads",
                 f"torch {torch.__version__}", "device cpu"):  # fmt: skip
        assert text in line, (text, line)


def test_result_round_trips_through_json(tmp_path):
    res = result("demo", machine_info(), [dict(variant="a", step_s=0.5)], note="x")
    path = write_result(res, str(tmp_path / "sub" / "demo.json"))
    back = json.loads(path.read_text())
    check_result(back)
    assert back["bench"] == "demo" and back["rows"] == [dict(variant="a", step_s=0.5)]
    assert back["note"] == "x" and set(back["machine"]) >= {"cpu", "cores", "torch"}


@pytest.mark.parametrize("drop", ["bench", "machine", "rows", "command"])
def test_check_result_names_the_missing_key(drop):
    res = result("demo", machine_info(), [])
    del res[drop]
    with pytest.raises(ValueError, match=repr(drop)):
        check_result(res)


def test_check_result_rejects_bad_machine_block_and_rows():
    res = result("demo", machine_info(), [])
    del res["machine"]["torch_threads"]
    with pytest.raises(ValueError, match="torch_threads"):
        check_result(res)
    with pytest.raises(ValueError, match="rows must be a list"):
        check_result(result("demo", machine_info(), [1, 2]))


def test_write_result_none_writes_nothing(tmp_path):
    assert write_result(result("demo", machine_info(), []), None) is None


def test_timed_counts_repeats_after_warmup():
    calls = []
    times = timed(lambda: calls.append(1), "cpu", repeats=3, warmup=2)
    assert len(times) == 3 and len(calls) == 5 and all(t >= 0 for t in times)


def test_peak_memory_sees_a_large_allocation():
    with PeakMemory("cpu") as mem:
        x = torch.ones(64, 2**20 // 4)  # 64 MiB, written so it is resident
        del x
    assert mem.mib > 40, mem.mib
