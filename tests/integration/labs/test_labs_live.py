"""Every lab on a real network (Mininet + OVS userspace): the reference solution scores 100%
and the starter does not; the demo; a class graded live.

Each lab is validated live once (starter graded, then the solution deployed on the same
network and graded, hidden checks included), whatever its static grading says.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sdnlab.labs import catalogue, load_lab
from sdnlab.labs.validate import validate

pytestmark = pytest.mark.network

SDNLAB = [sys.executable, "-m", "sdnlab.cli"]


@pytest.fixture(autouse=True)
def sdnlab_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SDNLAB_HOME", str(tmp_path / "home"))


@pytest.mark.parametrize("lab", catalogue(), ids=lambda lab: lab.id)
def test_lab_live_solution_scores_100_and_starter_does_not(lab):
    report = validate(lab.id, f"lab-tv{lab.number}", mode="live")
    assert report.mode == "live"
    assert report.ok, "\n".join(report.problems)
    assert report.solution_percent == 100.0
    assert report.starter_percent < 100.0


def test_demo_runs_the_default_lab_to_100_percent():
    proc = subprocess.run([*SDNLAB, "demo"], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "smart_meters" in proc.stdout and "Score: 100%" in proc.stdout
    assert "`sdnlab lab list`" in proc.stdout and "`sdnlab lab start 3`" in proc.stdout


def test_grade_batch_of_ryu_apps_live(tmp_path):
    lab = load_lab("l2_learning")
    klass = tmp_path / "class"
    shutil.copytree(lab.solution_dir, klass / "alice")
    shutil.copytree(lab.starter_dir, klass / "bob")
    proc = subprocess.run(
        [*SDNLAB, "lab", "grade-batch", str(klass), "--lab", "2", "--name", "lab-tbatch"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(klass / "grades.csv") as f:
        rows = {r["trainee"]: r for r in csv.DictReader(f)}
    assert float(rows["alice"]["percent"]) == 100.0 and rows["alice"]["mode"] == "live"
    assert float(rows["bob"]["percent"]) < 100.0
    assert not Path("/run/sdnlab/lab-tbatch").exists()
