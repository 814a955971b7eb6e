"""The supervisor keeps a lab alive (issue 12 item 6) and small (issue 12 item 9).

A builtin controller killed with SIGKILL is restarted with a bounded back-off, the switches
reconnect, traffic flows again and ``status`` counts the restart; an idle lab's supervisor is a
small watcher process, not the builder with Mininet and networkx loaded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from sdnlab.runtime import api
from sdnlab.runtime.watcher import RESTART_BACKOFF_S, restart_delay

pytestmark = pytest.mark.network


def _wait(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_killed_builtin_controller_is_restarted_and_status_counts_it(lab_factory):
    state = lab_factory("linear", {"switches": 2}, name="rt-ctlkill")
    first = state["controller"]["pid"]
    assert state["controller"]["restarts"] == 0
    os.kill(first, signal.SIGKILL)
    assert _wait(lambda: api.status("rt-ctlkill")["controller"].get("restarts") == 1, 30)
    now = api.status("rt-ctlkill")
    assert now["controller"]["pid"] != first and now["controller"]["alive"]
    assert _wait(lambda: all(s["connected"] for s in api.status("rt-ctlkill")["switches"]), 30)
    assert _wait(
        lambda: (
            api.run_in("rt-ctlkill", "h1", ["ping", "-c1", "-W1", "10.0.0.2"], timeout=10).returncode == 0
        ),
        30,
    )
    text = subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", "status", "--name", "rt-ctlkill"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "restarted 1x" in text


def test_the_restart_back_off_is_bounded():
    delays = [restart_delay(n) for n in range(1, 12)]
    assert delays[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert max(delays) == RESTART_BACKOFF_S[-1] == 30.0


def test_a_ready_lab_is_kept_by_a_small_watcher_without_idle_shells(lab_factory):
    state = lab_factory("linear", {"switches": 3}, name="rt-watcher", controller="none")
    pid = state["supervisor_pid"]

    def children() -> set[int]:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return {int(c) for c in f.read().split()}

    # the builder becomes the watcher right after writing "ready": switch shells end, host shells stay
    assert _wait(lambda: children() == {h["pid"] for h in state["hosts"]}, 10), children()
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert b"sdnlab.runtime.watcher" in f.read()
    with open(f"/proc/{pid}/status") as f:
        rss_kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    assert rss_kib < 20 * 1024, rss_kib  # the builder held about 43 MiB
    assert api.run_in("rt-watcher", "h1", ["ip", "link", "show", "h1-eth0"]).returncode == 0
