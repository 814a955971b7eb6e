"""Processes a live test ends: waiting until a killed one is gone, stopping a controller by SIGTERM.

Shared by the runtime tests that kill a lab's supervisor (``tests/integration/runtime``) and the
controller tests (``tests/integration/controller``).
"""

from __future__ import annotations

import os
import time

from sdnlab.controller.process import ControllerProcess
from sdnlab.runtime import paths

GONE_TIMEOUT_S = 10.0  # SIGKILL lands when the kernel gets to it: at once, later on a loaded machine
SIGTERM_TIMEOUT_S = 10.0  # the runner exits 0.7 s after SIGTERM (CLOSE_GRACE_S), later when loaded


def wait_gone(pid: int, timeout: float = GONE_TIMEOUT_S) -> None:
    """Return once process ``pid`` has ended: reaped if it is a child of this process (a lab's
    supervisor started by ``api.up`` here), else no longer alive (a zombie counts as gone)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ended = os.waitpid(pid, os.WNOHANG)[0] == pid
        except ChildProcessError:  # not our child, or already reaped
            ended = not paths.pid_alive(pid)
        if ended:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} still alive {timeout} s after it was killed")
        time.sleep(0.05)


def assert_stops_on_sigterm(ctl: ControllerProcess, timeout: float = SIGTERM_TIMEOUT_S) -> float:
    """Stop ``ctl`` with SIGTERM; it must exit by itself with status 0 (``stop`` kills it after
    ``timeout``, which shows as -9). Returns the seconds it took."""
    elapsed = ctl.stop(timeout=timeout)
    status = ctl.proc.returncode if ctl.proc is not None else None
    assert status == 0, (
        f"the controller did not exit by itself on SIGTERM: exit status {status} after {elapsed:.1f} s"
        f" (killed after {timeout} s)\n{ctl.output()[-2000:]}"
    )
    return elapsed
