"""Grades do not depend on order: every graded run starts from a known state and probes retry within bounds.

Issue 11 item 1: after a failed connect the probing host keeps an INCOMPLETE neighbour entry for
a few seconds, and a connect made meanwhile failed at once with EHOSTUNREACH, so the reference
solution lost points when graded right after a failing trainee. Real networks (Mininet + OVS).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sdnlab.labs import batch, grading, live, probes, workspace
from sdnlab.labs.loader import load_lab
from sdnlab.runtime import api

pytestmark = pytest.mark.network

PROBES = """probes:
  - id: live-ping
    description: "live: h2 pings h3"
    ping: {src: h2, dst: h3}
  - id: live-web
    description: "live: h2 connects to TCP 80 on h3"
    tcp: {src: h2, dst: h3, port: 80}
hints:
  - en: "none"
    ja: "none"
"""


@pytest.fixture(autouse=True)
def sdnlab_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SDNLAB_HOME", str(tmp_path / "home"))


@pytest.fixture
def probe_lab(tmp_path):
    """Lab 1 reduced to its live probes (ping and TCP from h2 to h3), so probes follow each other closely."""
    folder = tmp_path / "probe_lab"
    original = load_lab("static_flows")
    shutil.copytree(original.path, folder)
    part = tmp_path / "instructor" / "probe_lab"  # its instructor part: the reference, no hidden check
    shutil.copytree(original.solution_dir, part / "solution")
    (part / "hidden.yaml").write_text("probes: []\n")
    head = (folder / "lab.yaml").read_text().split("behaviours:")[0]
    head = head.replace("id: static_flows", "id: probe_lab").replace("number: 1\n", "number: 91\n")
    (folder / "lab.yaml").write_text(head + PROBES)
    return load_lab(folder)


def test_a_connect_right_after_a_failed_one_succeeds_once_the_path_is_fixed(probe_lab):
    name = "rt-repeat1"
    status = live.up(probe_lab, probe_lab.starter_dir, name)
    try:
        listeners = probes.start_listeners(name, ["h3"], 80, seconds=10)
        try:
            assert not probes.tcp_connect(name, "h2", "10.0.0.3", 80)  # starter: s2 drops everything
        finally:
            for proc in listeners:
                proc.kill()
                proc.wait()
        workspace.install_flows(probe_lab.solution_dir, live.bridges(status))
        result = grading.grade_live(probe_lab, name, include_hidden=True)
        assert result.percent == 100.0, [i.details for i in result.items]
    finally:
        api.down(name)


def test_the_reference_scores_the_same_ten_times_interleaved_with_failing_submissions(probe_lab, tmp_path):
    klass = tmp_path / "class"
    for i in range(10):
        shutil.copytree(probe_lab.solution_dir, klass / f"{i:02d}a-reference")
        shutil.copytree(probe_lab.starter_dir, klass / f"{i:02d}b-failing")
    rows = batch.grade_batch(probe_lab, klass, "rt-repeat2", mode="live")
    scores = {r["trainee"]: r["percent"] for r in rows}
    assert all(not r["error"] for r in rows), rows
    assert {p for t, p in scores.items() if "reference" in t} == {100.0}, scores
    assert {p for t, p in scores.items() if "failing" in t} == {0.0}, scores
    assert not Path("/run/sdnlab/rt-repeat2").exists()
