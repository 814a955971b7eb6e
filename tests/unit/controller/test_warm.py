"""A warm spare runner: imports done before it is needed, then exactly the runner a cold start makes."""

from __future__ import annotations

import time
from pathlib import Path

from sdnlab.controller.process import port_open
from sdnlab.controller.warm import WarmSpares
from sdnlab.grader.replay.grade import free_port

STARTER = Path(__file__).resolve().parents[3] / "labs" / "l2_learning" / "starter" / "l2_switch.py"


def wait_listening(port: int, ctl, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not port_open("127.0.0.1", port):
        assert ctl.alive(), ctl.output()
        assert time.monotonic() < deadline, ctl.output()
        time.sleep(0.05)


def test_the_spare_becomes_the_runner_and_the_next_spare_starts():
    spares = WarmSpares()
    try:
        spares.start_spare()
        spare_pid = spares._spare[0].pid
        port = free_port()
        ctl = spares.take([str(STARTER)], port, env={"SDNLAB_APP_HANG_S": "2"})
        try:
            assert ctl.proc.pid == spare_pid
            wait_listening(port, ctl)
            assert "loading app" in ctl.output() and str(STARTER.stem) in ctl.output()
            assert spares._spare is not None and spares._spare[0].pid != spare_pid
        finally:
            assert ctl.stop() < 5.0
        assert ctl.proc.returncode == 0
    finally:
        spares.close()


def test_a_spare_from_another_environment_is_not_used(monkeypatch):
    spares = WarmSpares()
    try:
        spares.start_spare()
        old = spares._spare[0]
        monkeypatch.setenv("SDNLAB_WARM_TEST", "changed")  # e.g. another PYTHONPATH
        ctl = spares.take([str(STARTER)], free_port(), env={})
        try:
            assert ctl.proc.pid != old.pid and old.poll() is not None  # cold start; the stale spare is gone
            assert ctl.env["SDNLAB_WARM_TEST"] == "changed"
        finally:
            ctl.stop()
    finally:
        spares.close()


def test_a_spare_leaves_when_its_owner_does():
    spares = WarmSpares()
    spares.start_spare()
    proc = spares._spare[0]
    proc.stdin.close()  # what the owner's exit does
    assert proc.wait(60) == 0
    spares.close()
