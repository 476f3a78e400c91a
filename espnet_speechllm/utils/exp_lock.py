"""One trainer per experiment dir: ``<exp>/.lock``, held with flock, holds the pid.

A second trainer on the same dir (a resume started while the first still runs)
would interleave checkpoints and logs; it is refused with the first one's pid. The
lock is the kernel's: it goes when its holder exits, however it exits, so a stale
``.lock`` file from a crashed run blocks nothing.
"""

import contextlib
import fcntl
import os
import socket
from pathlib import Path
from typing import Iterator, Union


class ExpLockedError(RuntimeError):
    """Another process holds the experiment dir."""


@contextlib.contextmanager
def exp_lock(exp_dir: Union[str, Path]) -> Iterator[Path]:
    """Hold ``exp_dir/.lock`` for the block (the dir is created); yields its path.

    Raises:
        ExpLockedError: another process holds it; the message names its pid.
    """
    path = Path(exp_dir) / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as f:  # a+: the holder's pid stays readable
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown pid"
            raise ExpLockedError(
                f"{exp_dir} is in use by another trainer ({holder}; lock {path}): "
                "wait for it to finish or stop it before resuming"
            ) from None
        f.truncate(0)
        f.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        f.flush()
        try:
            yield path
        finally:
            f.truncate(0)  # the lock itself goes with the file's close
