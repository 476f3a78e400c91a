"""Kill the jobs of run_jobs when run_jobs itself dies, however it dies (even SIGKILL).

::

    python -m espnet_speechllm.recipe.job_watchdog   # stdin: a pipe from run_jobs

run_jobs starts each job in a session of its own (so that a Ctrl-C reaches run_jobs
only, which then kills whole job trees). A job would outlive a run_jobs killed by
SIGKILL or the OOM killer: a resumed stage would then run two trainers on one exp dir.
This watchdog, in a session of its own too, reads ``+PGID`` / ``-PGID`` lines (a job
started / ended) from run_jobs; end of input without ``exit`` means run_jobs is gone:
every job still registered gets SIGTERM, then SIGKILL after 5 s.
"""

import os
import signal
import sys
import time
from typing import Set

GRACE_S = 5.0


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # a pgid reused by another user's process
        return False


def kill_groups(pgids: Set[int], grace_s: float = GRACE_S) -> None:
    """SIGTERM each process group; SIGKILL those still alive after grace_s."""
    for pgid in pgids:
        if _alive(pgid):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.time() + grace_s
    while time.time() < deadline and any(_alive(p) for p in pgids):
        time.sleep(0.05)
    for pgid in pgids:
        if _alive(pgid):
            os.killpg(pgid, signal.SIGKILL)


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGHUP):  # run_jobs decides on these
        signal.signal(sig, signal.SIG_IGN)
    parent = os.getppid()
    pgids: Set[int] = set()
    for line in sys.stdin:
        line = line.strip()
        if line == "exit":
            return
        if line[:1] == "+":
            pgids.add(int(line[1:]))
        elif line[:1] == "-":
            pgids.discard(int(line[1:]))
    if pgids:
        kill_groups(pgids)
        try:  # run_jobs's stderr may be gone with it
            print(
                f"job_watchdog: run_jobs (pid {parent}) died: killed its job group(s) "
                + " ".join(map(str, sorted(pgids))),
                file=sys.stderr,
            )
        except OSError:
            pass


if __name__ == "__main__":
    main()
