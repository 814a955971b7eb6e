"""Gradings of one session run one at a time (issue 12 item 7): four at once all score 100%.

Before the lock, two checks at once on a correct lab 1 solution shared the hosts (two listeners
on one port, one killed under the other's probe) and one of them failed its live probe.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from sdnlab.labs import session
from sdnlab.labs.loader import load_lab

pytestmark = pytest.mark.network

SDNLAB = [sys.executable, "-m", "sdnlab.cli"]
NAME = "rt-conc"


def test_four_gradings_at_once_on_one_session_all_score_100(tmp_path, monkeypatch):
    monkeypatch.setenv("SDNLAB_HOME", str(tmp_path / "home"))
    lab = load_lab("static_flows")
    work = tmp_path / "work"
    shutil.copytree(lab.solution_dir, work)
    session.start(lab, NAME, work)
    try:
        for _round in range(2):
            assert _four_at_once() == [100.0] * 4
    finally:
        session.stop(NAME)


def _four_at_once() -> list[float]:
    """Two checks, a submit and a check started together; their percentages."""
    commands = [["check"], ["check"], ["submit"], ["check"]]
    procs = [
        subprocess.Popen(
            [*SDNLAB, "lab", *words, "--json", "--name", NAME],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for words in commands
    ]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    percents = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out + err
        data = json.loads(out)
        percents.append((data.get("result") or data)["percent"])
    return percents


def test_the_grading_lock_makes_a_second_holder_wait(tmp_path, monkeypatch):
    import threading
    import time

    from sdnlab.runtime import api

    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path / "run"))
    order: list[str] = []
    told: list[str] = []

    def second():
        with api.exclusive("rt-lock", waiting=told.append):
            order.append("second")

    with api.exclusive("rt-lock"):
        with api.exclusive("rt-lock"):  # nested in one thread: no deadlock
            pass
        thread = threading.Thread(target=second)
        thread.start()
        deadline = time.monotonic() + 10  # the second holder starts waiting (late on a busy machine)
        while not told and time.monotonic() < deadline:
            time.sleep(0.05)
        order.append("first")
    thread.join(timeout=10)
    assert order == ["first", "second"]
    assert told == ["lab rt-lock: waiting for another grading or reset to finish"]
