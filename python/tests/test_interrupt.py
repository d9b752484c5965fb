"""Ctrl-C (a notebook's interrupt is the same SIGINT) stops a run within
moments and raises KeyboardInterrupt, instead of running to its end."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

CHILD = """
import sys, lockerlab
sc = lockerlab.Scenario.builtin()
print("running", flush=True)
try:
    # About 40 s of work on two threads (on any machine).
    lockerlab.simulate(sc, replications=200, threads=2, progress=False)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(7)
print("finished", flush=True)
"""


def test_ctrl_c_stops_a_long_run_and_raises_keyboard_interrupt(repo):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "running"
        time.sleep(1.0)
        child.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        out, err = child.communicate(timeout=30)
        stopped_after = time.monotonic() - signalled
    finally:
        child.kill()
    assert child.returncode == 7, err
    assert out.strip() == "interrupted"
    # The run had about 40 s left; the windows in flight end in well under 10.
    assert stopped_after < 10, stopped_after
