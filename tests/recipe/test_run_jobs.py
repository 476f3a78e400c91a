import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from espnet_speechllm.recipe.run_jobs import make_jobs

ROOT = Path(__file__).resolve().parents[2]


def run_jobs(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "espnet_speechllm.recipe.run_jobs", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        **kwargs,
    )


def test_make_jobs_substitutes_and_quotes():
    jobs = make_jobs(
        ["JOB=2:3", "log/x.JOB.log", "echo", "keys.JOB.scp", "a  b", "\\|", "cat"]
    )
    assert [j.index for j in jobs] == [2, 3]
    assert jobs[0].log == Path("log/x.2.log")
    assert jobs[1].command == "echo keys.3.scp 'a  b' \\| cat"


@pytest.mark.parametrize(
    "spec, message",
    [
        (["JOB=3:1", "log", "true"], "empty job range"),
        (["JOB=1:2", "log"], "a log path"),
        (["JOB=1:2", "x.log", "true"], "log path x.log must contain JOB"),
    ],
)
def test_make_jobs_rejects_bad_spec(spec, message):
    with pytest.raises(ValueError, match=message):
        make_jobs(spec)


def test_jobs_write_logs_with_header_and_footer(tmp_path):
    log = tmp_path / "log" / "echo.JOB.log"
    out = run_jobs(
        "JOB=1:3", str(log), "echo", "job JOB of", "3", "|", "tr", "a-z", "A-Z"
    )
    assert out.returncode == 0, out.stderr
    for i in (1, 2, 3):
        lines = (tmp_path / "log" / f"echo.{i}.log").read_text().splitlines()
        assert lines[0] == f"# echo 'job {i} of' 3 | tr a-z A-Z"
        assert lines[1].startswith("# Started at")
        assert lines[2] == f"JOB {i} OF 3"
        assert re.fullmatch(r"# Accounting: time=\d+s threads=1 max_rss=\d+MiB", lines[-2])
        assert lines[-1].startswith("# Ended (code 0)")


def test_single_job_without_range(tmp_path):
    out = run_jobs(str(tmp_path / "one.log"), "echo", "JOB")  # no range: JOB stays
    assert out.returncode == 0
    assert "JOB" in (tmp_path / "one.log").read_text().splitlines()[2]


def test_failure_names_jobs_and_shows_log_tail(tmp_path):
    out = run_jobs(
        "JOB=1:3",
        str(tmp_path / "t.JOB.log"),
        "echo",
        "marker-JOB",
        ";",
        "test",
        "JOB",
        "-ne",
        "2",
    )
    assert out.returncode == 1
    assert "1 / 3 job(s) failed: 2" in out.stderr
    assert "marker-2" in out.stderr and "marker-1" not in out.stderr
    assert (
        (tmp_path / "t.2.log")
        .read_text()
        .splitlines()[-1]
        .startswith("# Ended (code 1)")
    )


def test_max_jobs_limits_concurrency(tmp_path):
    t0 = time.time()
    assert (
        run_jobs("JOB=1:3", str(tmp_path / "a.JOB.log"), "sleep", "0.4").returncode == 0
    )
    parallel = time.time() - t0
    t0 = time.time()
    out = run_jobs(
        "--max_jobs", "1", "JOB=1:3", str(tmp_path / "b.JOB.log"), "sleep", "0.4"
    )
    assert out.returncode == 0
    sequential = time.time() - t0
    assert sequential >= 1.2 > parallel, (sequential, parallel)


def test_interrupt_kills_running_jobs(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "espnet_speechllm.recipe.run_jobs",
            "JOB=1:2",
            str(tmp_path / "s.JOB.log"),
            "echo",
            "$$",
            ">",
            str(tmp_path / "pid.JOB"),
            ";",
            "exec",
            "sleep",
            "60",
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job (e.g. `bash .ci/run &`) inherits SIGINT ignored,
        # and Python then installs no KeyboardInterrupt handler: restore the default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    pid_files = [tmp_path / "pid.1", tmp_path / "pid.2"]
    deadline = time.time() + 60  # generous: CI machines can be loaded
    while not all(p.is_file() and p.read_text().strip() for p in pid_files):
        assert time.time() < deadline, "jobs did not start"
        time.sleep(0.05)
    pids = [int(p.read_text()) for p in pid_files]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "interrupted" in err
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "# Ended (code -15)" in (tmp_path / "s.1.log").read_text()


def test_accounting_reports_the_jobs_peak_memory(tmp_path):
    """A job that holds ~200 MiB reports at least that; an echo far less."""
    big, small = tmp_path / "big.log", tmp_path / "small.log"
    hold = "import time; b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(0.1)"
    assert run_jobs(str(big), sys.executable, "-c", hold).returncode == 0
    assert run_jobs(str(small), "echo", "hi").returncode == 0

    def rss(log):
        return int(re.search(r"max_rss=(\d+)MiB", log.read_text()).group(1))

    assert rss(big) >= 200 > rss(small)


def _start_wrapper(tmp_path):
    """run_jobs with one job: a shell (pid in pid) waiting for its own child (in child)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "espnet_speechllm.recipe.run_jobs", str(tmp_path / "j.log"),
         "echo", "$$", ">", str(tmp_path / "pid"), ";", "sleep", "60", "&",
         "echo", "$!", ">", str(tmp_path / "child"), ";", "wait"],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    files = [tmp_path / "pid", tmp_path / "child"]
    deadline = time.time() + 60
    while not all(p.is_file() and p.read_text().strip() for p in files):
        assert time.time() < deadline, "job did not start"
        time.sleep(0.05)
    return proc, [int(p.read_text()) for p in files]


def _gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP])
def test_the_job_tree_dies_with_the_wrapper(tmp_path, sig):
    # Before: the job ran in its own session and outlived a wrapper killed by SIGKILL
    # (watchdog now) or SIGHUP (a closed terminal: now handled like Ctrl-C).
    proc, pids = _start_wrapper(tmp_path)
    try:
        proc.send_signal(sig)
        proc.wait(timeout=60)
        assert all(_gone(pid) for pid in pids), pids
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if sig == signal.SIGHUP:
        assert proc.returncode == 1 and "interrupted" in proc.stderr.read()


def test_a_finished_run_leaves_no_watchdog(tmp_path):
    before = set(os.listdir("/proc"))
    assert run_jobs(str(tmp_path / "x.log"), "true").returncode == 0
    watchdogs = [
        p for p in set(os.listdir("/proc")) - before
        if p.isdigit() and "job_watchdog" in _cmdline(p)
    ]
    assert watchdogs == []


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return ""
