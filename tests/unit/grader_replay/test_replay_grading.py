"""Replay grading of lab 2 (l2_learning): simulated switches, the real runner, the grader's verdict.

The reference solution passes every scenario; the starter (floods everything from the
controller) and a deliberately broken variant (learns with source and destination swapped in
the match) fail, each with the message sequence that shows why. No Mininet, no OVS.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sdnlab.grader.replay.grade import load_lab, replay_app, run_scenario

REPO = Path(__file__).resolve().parents[3]
LAB = REPO / "labs" / "l2_learning"
SOLUTION = REPO / "instructor" / "labs" / "l2_learning" / "solution"  # instructor data


def checks(report):
    return {c.id: c for s in report.scenarios for c in s.checks if not c.passed}


@pytest.fixture(scope="module")
def reference():
    return replay_app(str(SOLUTION / "l2_switch.py"), LAB, of_port=6870)


def test_the_reference_app_passes_every_scenario(reference):  # its speed: bench/check_replay
    assert reference.passed, reference.summary()
    assert [s.name for s in reference.scenarios] == ["learning", "reconnect"]
    for scenario in reference.scenarios:
        assert scenario.behaviour_score == scenario.behaviour_max > 0


def test_the_starter_fails_with_the_packet_ins_that_show_why():
    report = replay_app(str(LAB / "starter" / "l2_switch.py"), LAB, of_port=6874)
    failed = checks(report)
    assert not report.passed
    assert {"flows-before-second-packet", "no-flood-after-learning"} <= set(failed)
    evidence = failed["flows-before-second-packet"].evidence[0]
    assert "PACKET_IN" in evidence and "ICMP type 8" in evidence and "=> PACKET_OUT" in evidence
    assert "[l2_switch.py:" in evidence  # the starter's line that sent the packet-out
    assert any(k.startswith("behaviour:") for k in failed)  # no flows: the grader's reach fails too


def test_a_switch_that_learns_backwards_fails_delivery_and_behaviours(tmp_path):
    text = (SOLUTION / "l2_switch.py").read_text()
    broken = text.replace("eth_src=eth.src, eth_dst=eth.dst", "eth_src=eth.dst, eth_dst=eth.src")
    assert broken != text
    app = tmp_path / "l2_switch.py"
    app.write_text(broken)
    lab = load_lab(LAB)
    result = run_scenario(str(app), lab, "learning", ["pingall", "pingall"], 6878)
    failed = {c.id for c in result.checks if not c.passed}
    assert not result.passed and failed & {"pings-delivered", "flows-before-second-packet"}
    assert any(k.startswith("behaviour:") for k in failed)


def test_a_link_down_step_reports_port_status_and_cuts_traffic(tmp_path):
    lab = load_lab(LAB)
    steps = ["pingall", {"link": ["s1", "s3", "down"]}, {"ping": {"src": "h1", "dst": "h4"}}]
    result = run_scenario(str(SOLUTION / "l2_switch.py"), lab, "link-down", steps, 6879)
    delivered = next(c for c in result.checks if c.id == "pings-delivered")
    assert not delivered.passed and "h1 -> h4 (round 2)" in delivered.detail
    assert any(r.msg_type == 12 for r in result.records)  # PORT_STATUS went to the app


def test_an_app_that_raises_is_told_its_own_file_line_and_count(tmp_path):
    text = (SOLUTION / "l2_switch.py").read_text()
    broken = text.replace("table[eth.src] = in_port", "table[eth.src] = in_port.port_no")
    assert broken != text
    app = tmp_path / "l2_switch.py"
    app.write_text(broken)
    line = next(n for n, t in enumerate(broken.splitlines(), 1) if "in_port.port_no" in t)
    result = run_scenario(str(app), load_lab(LAB), "learning", [{"ping": {"src": "h1", "dst": "h2"}}], 6880)
    check = next(c for c in result.checks if c.id == "no-handler-errors")
    assert not check.passed
    assert check.detail.startswith(f"your app raised AttributeError at l2_switch.py:{line} in packet_in")
    assert not next(c for c in result.checks if c.id == "packet-ins-answered").passed


def test_sdnlab_of_replay_prints_the_verdict_and_writes_the_conversations(tmp_path):
    import subprocess
    import sys

    starter = str(LAB / "starter" / "l2_switch.py")
    options = ["--lab", str(LAB), "--port", "6882", "--record-dir", str(tmp_path)]
    result = subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", "of", "replay", starter, *options],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("FAIL learning (") and "flows-before-second-packet" in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["learning.pcapng", "reconnect.pcapng"]
