import os
import signal
import subprocess
import sys
import time

import pytest

from espnet_speechllm.utils.exp_lock import ExpLockedError, exp_lock

HOLD = "import sys, time; from espnet_speechllm.utils.exp_lock import exp_lock\n" \
       "with exp_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)\n"


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "exp")],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(ExpLockedError, match=f"in use by another trainer \\(pid {holder.pid} on "):
            with exp_lock(tmp_path / "exp"):
                pass
        holder.send_signal(signal.SIGKILL)  # however the holder ends, the lock goes
        holder.wait()
        with exp_lock(tmp_path / "exp") as path:
            assert path.read_text().startswith(f"pid {os.getpid()} ")
        assert path.read_text() == ""
    finally:
        holder.kill()


def test_the_lock_is_free_again_after_the_block(tmp_path):
    with exp_lock(tmp_path):
        pass
    with exp_lock(tmp_path):
        pass
