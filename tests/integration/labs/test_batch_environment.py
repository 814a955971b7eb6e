"""An environment failure is not a grade (issue 11 item 2): grade-batch with no free lab slot
stops non-zero and writes nothing, instead of recording 0% for every trainee."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from sdnlab.labs.loader import load_lab

pytestmark = pytest.mark.network

SDNLAB = [sys.executable, "-m", "sdnlab.cli"]


def test_grade_batch_without_a_free_lab_slot_stops_and_writes_nothing(tmp_path, lab_factory):
    lab = load_lab("static_flows")
    klass = tmp_path / "class"
    for trainee in ("alice", "bob"):
        shutil.copytree(lab.solution_dir, klass / trainee)
    lab_factory("linear", {"switches": 1}, name="rt-slot-holder")  # at least one lab runs
    env = dict(os.environ, SDNLAB_MAX_LABS="1", SDNLAB_HOME=str(tmp_path / "home"))
    proc = subprocess.run(
        [*SDNLAB, "lab", "grade-batch", str(klass), "--lab", "1", "--mode", "live", "--name", "rt-nosl"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "no room for another lab" in proc.stderr and "SDNLAB_MAX_LABS=1" in proc.stderr
    assert "nothing was written" in proc.stderr and "Traceback" not in proc.stderr
    assert not (klass / "grades.csv").exists() and not (klass / "grades.json").exists()
    assert "0%" not in proc.stdout


def test_a_lab_refused_for_capacity_names_the_limit(lab_factory, monkeypatch):
    from sdnlab.runtime import api
    from sdnlab.runtime.capacity import NoLabSlot

    lab_factory("linear", {"switches": 1}, name="rt-slot-holder2")
    monkeypatch.setenv("SDNLAB_MAX_LABS", "1")
    with pytest.raises(NoLabSlot, match=r"this machine allows 1 \(SDNLAB_MAX_LABS=1\)"):
        api.up("linear", {"switches": 1}, name="rt-refused")
    assert not os.path.exists("/run/sdnlab/rt-refused")


def test_a_lab_left_by_a_killed_run_does_not_block_grade_batch_of_the_same_name(tmp_path, lab_factory):
    """A test or batch killed mid-lab leaves the lab's directory behind (supervisor gone):
    grade-batch under that name clears it and grades, instead of calling it running."""
    from sdnlab.labs import batch
    from sdnlab.runtime import api, paths

    state = lab_factory("linear", {"switches": 1}, name="rt-killed")
    os.kill(state["supervisor_pid"], 9)
    try:  # SIGKILL lands when the kernel gets to it: wait until it has (``up`` started it here)
        os.waitpid(state["supervisor_pid"], 0)
    except ChildProcessError:
        pass  # already reaped
    assert "rt-killed" in paths.lab_names() and not paths.is_running("rt-killed")
    lab = load_lab("static_flows")
    shutil.copytree(lab.solution_dir, tmp_path / "alice")
    rows = batch.grade_batch(lab, tmp_path, live_name="rt-killed", mode="live")
    assert [(r["trainee"], r["error"], r["percent"]) for r in rows] == [("alice", "", 100)]
    assert "rt-killed" not in paths.lab_names()
    assert "rt-killed" not in api.paths.running_lab_names()
