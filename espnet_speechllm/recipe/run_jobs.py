"""Run a command as N local parallel jobs, one log per job (the role of Kaldi's run.pl).

::

    python -m espnet_speechllm.recipe.run_jobs [--max_jobs M] \\
        JOB=1:N log/x.JOB.log cmd args...
    python -m espnet_speechllm.recipe.run_jobs log/x.log cmd args...

The range variable (any name: ``JOB=1:4``, ``SPLIT=2:3``) is replaced in the log path
and in every argument (with several jobs the log path must contain it). As with run.pl,
the arguments are joined into one bash command line: an argument without whitespace is
passed unquoted, so an escaped ``\\|`` or ``\\>`` pipes and redirects, and an argument
with whitespace is quoted as one word. Each log starts with the command line and start
time and ends with ``# Accounting: time=..s threads=1 max_rss=..MiB`` (the peak resident
memory of the job's largest process) and ``# Ended (code X)``. If a job fails,
the failed jobs and the tail of their logs go to stderr and the exit status is 1.
Ctrl-C, SIGTERM or SIGHUP kills every running job; if run_jobs is killed outright
(SIGKILL, the OOM killer), its watchdog (recipe/job_watchdog.py) kills them.
"""

import argparse
import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Deque, Dict, Iterator, List, Optional, Sequence

from espnet_speechllm.recipe import job_watchdog
from espnet_speechllm.utils.cli import parse_args

_TAIL_LINES = 10
_INTERRUPTS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Job:
    index: int
    log: Path
    command: str


def make_jobs(spec: Sequence[str]) -> List[Job]:
    """Expand ``[VAR=a:b] log cmd...`` into jobs."""
    match = re.fullmatch(r"([A-Za-z_]\w*)=(\d+):(\d+)", spec[0]) if spec else None
    if match:
        var, first, last = match.group(1), int(match.group(2)), int(match.group(3))
        spec = spec[1:]
        if first > last:
            raise ValueError(f"empty job range {var}={first}:{last}")
    else:
        var, first, last = None, 1, 1
    if len(spec) < 2:
        raise ValueError("expected a log path and a command")
    if var and last > first and var not in spec[0]:
        raise ValueError(f"log path {spec[0]} must contain {var}: jobs would share it")
    jobs = []
    for i in range(first, last + 1):
        args = [a.replace(var, str(i)) for a in spec] if var else list(spec)
        command = " ".join(
            a if a and not re.search(r"\s", a) else shlex.quote(a) for a in args[1:]
        )
        jobs.append(Job(index=i, log=Path(args[0]), command=command))
    return jobs


def _start(job: Job) -> subprocess.Popen:
    job.log.parent.mkdir(parents=True, exist_ok=True)
    log = open(job.log, "w", encoding="utf-8")
    log.write(f"# {job.command}\n# Started at {time.strftime('%c')}\n")
    log.flush()
    # A new session per job, so Ctrl-C reaches us only and we kill whole job trees.
    proc = subprocess.Popen(
        ["bash", "-c", job.command],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return proc


def _finish(job: Job, code: int, elapsed: float, max_rss_kib: Optional[int] = None) -> None:
    rss = f" max_rss={max_rss_kib / 1024:.0f}MiB" if max_rss_kib is not None else ""
    with open(job.log, "a", encoding="utf-8") as log:
        log.write(f"# Accounting: time={elapsed:.0f}s threads=1{rss}\n")
        log.write(
            f"# Ended (code {code}) at {time.strftime('%c')}, "
            f"elapsed time {elapsed:.0f} seconds\n"
        )


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Ctrl-C / SIGTERM inside the block are raised on leaving it.

    Between Popen starting a job and the job being recorded, an interrupt would
    leave that job running, unknown to `_kill`.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    old = {s: signal.signal(s, lambda sig, frame: caught.append(sig)) for s in _INTERRUPTS}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt


def _kill(running: Dict[int, subprocess.Popen]) -> None:
    """SIGTERM every job's process group; SIGKILL what is still alive after 5 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in running.values():
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            for proc in running.values():
                proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


class _Watchdog:
    """The job_watchdog process: told of each job group started and ended."""

    def __init__(self) -> None:
        self.proc: Optional[subprocess.Popen] = subprocess.Popen(
            [sys.executable, job_watchdog.__file__],
            stdin=subprocess.PIPE,
            text=True,
            start_new_session=True,  # not killed with our process group
        )

    def tell(self, line: str) -> None:
        if self.proc is None:
            return
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except OSError:  # it died: jobs then die with us only if we die cleanly
            print("run_jobs: warning: job watchdog died", file=sys.stderr)
            self.proc = None

    def close(self) -> None:
        self.tell("exit")
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait()


def run(jobs: List[Job], max_jobs: Optional[int] = None) -> List[Job]:
    """Run jobs, at most max_jobs at a time; returns the failed ones."""
    limit = max_jobs or len(jobs)
    pending: Deque[Job] = deque(jobs)
    running: Dict[int, subprocess.Popen] = {}
    started: Dict[int, float] = {}
    by_index = {job.index: job for job in jobs}
    failed = []
    watchdog = _Watchdog()
    try:
        while pending or running:
            while pending and len(running) < limit:
                job = pending.popleft()
                started[job.index] = time.time()
                with _interrupts_deferred():  # a started job is always in `running`
                    running[job.index] = _start(job)
                    watchdog.tell(f"+{running[job.index].pid}")
            for index, proc in list(running.items()):
                # wait4 instead of poll: the rusage of the job (bash and the processes
                # it waited for; Linux reports their largest peak RSS) comes with it.
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid != 0:
                    code = proc.returncode = os.waitstatus_to_exitcode(status)
                    del running[index]
                    watchdog.tell(f"-{proc.pid}")
                    _finish(by_index[index], code, time.time() - started[index], usage.ru_maxrss)
                    if code != 0:
                        failed.append(by_index[index])
            time.sleep(0.02)
    except KeyboardInterrupt:
        _kill(running)
        for index, proc in running.items():
            _finish(by_index[index], proc.returncode, time.time() - started[index])
        raise
    finally:
        watchdog.close()
    return sorted(failed, key=lambda job: job.index)


def _report(failed: List[Job], n_jobs: int) -> None:
    ids = " ".join(str(job.index) for job in failed)
    print(f"run_jobs: {len(failed)} / {n_jobs} job(s) failed: {ids}", file=sys.stderr)
    for job in failed:
        lines = job.log.read_text(encoding="utf-8", errors="replace").splitlines()
        print(f"---- {job.log} (last {_TAIL_LINES} lines) ----", file=sys.stderr)
        print("\n".join(lines[-_TAIL_LINES:]), file=sys.stderr)


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--max_jobs", type=int, default=None, help="default: all at once"
    )
    parser.add_argument(
        "--gpu",
        type=int,
        default=0,
        help="accepted for cmd.sh compatibility; jobs see all local devices",
    )
    parser.add_argument(
        "spec", nargs=argparse.REMAINDER, help="[VAR=a:b] LOG COMMAND..."
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = get_parser()
    args = parse_args(parser, argv)
    try:
        jobs = make_jobs(args.spec)
    except ValueError as e:
        parser.error(str(e))
    if args.max_jobs is not None and args.max_jobs < 1:
        parser.error(f"--max_jobs must be >= 1, got {args.max_jobs}")
    # SIGTERM (e.g. from a parent run_jobs) and SIGHUP (the terminal or ssh session
    # closed) get the same cleanup as Ctrl-C.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    try:
        failed = run(jobs, args.max_jobs)
    except KeyboardInterrupt:
        sys.exit("run_jobs: interrupted; running jobs killed")
    if failed:
        _report(failed, len(jobs))
        sys.exit(1)


if __name__ == "__main__":
    main()
