"""Lab 8's scored loss window does not depend on how busy the switch process is.

One ``ovs-vswitchd`` thread forwards for every lab on the machine; when it is slow (CPU load,
other labs being built), the loss of a fibre cut grows whatever the answer. Here that is made
certain instead of left to luck: ovs-vswitchd is frozen (SIGSTOP) for 0.4 s at the very moment
of every cut. The reference (fast-failover groups) must still earn full credit, because the
answer is charged only beyond a witness fast-failover bridge cut at the same instant; the
starter (no backup path) must earn nothing. Another process resumes ovs-vswitchd after 0.4 s
(started before the cut, in its own session), so even a test killed mid-cut cannot leave it
frozen."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from sdnlab.certification.scenarios import scored_item
from sdnlab.labs import failover, live, load_lab
from sdnlab.runtime import api, paths

pytestmark = pytest.mark.network

FREEZE_S = 0.4


def _vswitchd_pid() -> int:
    return int(Path("/var/run/openvswitch/ovs-vswitchd.pid").read_text().strip())


@pytest.fixture
def frozen_cuts(monkeypatch):
    """Every cut of a failover measurement happens while ovs-vswitchd is frozen for FREEZE_S."""
    pid = _vswitchd_pid()
    real = failover._run
    cuts = []

    def run(argv, what, stdin=None):
        if what != "cut":
            return real(argv, what, stdin)
        resume = subprocess.Popen(  # resumes it whatever happens to this test
            ["sh", "-c", f"sleep {FREEZE_S}; kill -CONT {pid}"], start_new_session=True
        )
        os.kill(pid, signal.SIGSTOP)
        try:
            real(argv, what, stdin)
        finally:
            cuts.append(what)
            resume.wait()
            os.kill(pid, signal.SIGCONT)

    monkeypatch.setattr(failover, "_run", run)
    yield cuts
    os.kill(pid, signal.SIGCONT)


def _bridges() -> set[str]:
    return set(subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True).stdout.split())


def _score(lab, workdir: Path, name: str):
    topology = live.load_topology(lab)
    status = live.up(lab, workdir, name)
    witness = failover.witness_for(int(status["slot"]))
    try:
        scored = scored_item(lab.scored[0], name, topology)
        assert witness.bridge not in _bridges()  # the witness lives only during the measurement
        spec = json.loads((paths.lab_dir(name) / "spec.json").read_text())
        assert witness.bridge not in spec["bridges"] and witness.primary not in spec["switch_interfaces"]
        return scored
    finally:
        api.down(name)
        assert witness.bridge not in _bridges()
        assert not any(Path(f"/sys/class/net/{i}").exists() for i in (*witness.interfaces, witness.feed))


def test_a_frozen_switch_process_costs_the_fast_failover_reference_nothing(tmp_path, frozen_cuts):
    lab = load_lab("broadcast_failover")
    shutil.copytree(lab.solution_dir, tmp_path / "ref")
    item, charged = _score(lab, tmp_path / "ref", "t-rs-frz-ref")
    assert frozen_cuts, "no cut was made while the switch process was frozen"
    assert item.score == item.weight and charged <= 50, item.details
    assert "(witness)" in item.details[0]


def test_a_frozen_switch_process_does_not_help_an_answer_without_a_backup_path(tmp_path, frozen_cuts):
    lab = load_lab("broadcast_failover")
    shutil.copytree(lab.starter_dir, tmp_path / "starter")
    item, charged = _score(lab, tmp_path / "starter", "t-rs-frz-bad")
    assert frozen_cuts
    assert item.score == 0.0 and charged == float("inf"), item.details
    assert "never came back to rx3" in item.details[0]
