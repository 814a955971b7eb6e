"""Failover on real OVS: a fast-failover group on a ring keeps h1 -> h2 working when s1-s2 goes
down, a plain output does not, and in both cases the static failover verdict and the live
delivery (with the link really down) agree."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from sdnlab.errors import LabError
from sdnlab.grader import collect, grade, parse_spec
from sdnlab.grader.live import confirm

pytestmark = pytest.mark.network

LAB = "grring"
TOPOLOGY = str(Path(__file__).parent / "topologies" / "gr_ring.yaml")
# s1: 1=h1 2=s2 3=s3; s2: 1=h2 2=s1 3=s3; s3: 1=s1 2=s2
COMMON = {
    "s2": ["priority=10,ip,nw_dst=10.0.0.2,actions=output:1"],
    "s3": ["priority=10,ip,in_port=1,nw_dst=10.0.0.2,actions=output:2"],
}
PROTECTED = ["priority=10,ip,nw_dst=10.0.0.2,actions=group:1"]
UNPROTECTED = ["priority=10,ip,nw_dst=10.0.0.2,actions=output:2"]
GROUP = (
    "group_id=1,type=fast_failover,bucket=watch_port:2,actions=output:2,bucket=watch_port:3,actions=output:3"
)
SPEC = """
- id: normal
  reach: {src: h1, dst: h2, traffic: icmp}
- id: survives-s1-s2
  failover: {down: [s1-s2], behaviour: {reach: {src: h1, dst: h2, traffic: icmp}}}
"""


def _ofctl(*args):
    subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def lab():
    from sdnlab.runtime import api

    api.up(TOPOLOGY, {}, name=LAB, controller="none")
    try:
        yield api
    finally:
        try:
            api.down(LAB)
        except LabError:
            pass


def _install(api, s1_rules):
    for switch, lines in {**COMMON, "s1": s1_rules}.items():
        bridge = api.bridge(LAB, switch)
        _ofctl("del-flows", bridge)
        _ofctl("del-groups", bridge)
        if switch == "s1":
            _ofctl("add-group", bridge, GROUP)
        for line in lines:
            _ofctl("add-flow", bridge, line)


def _set_link(api, up: bool, timeout: float = 20.0):
    """Take the s1-s2 link down (or up) by its interface on s1's bridge, and wait until OVS
    shows the port's liveness changed (it notices a carrier change within about a second on a
    quiet machine, later on a busy one; the fast-failover group watches that liveness)."""
    interface = api.bridge(LAB, "s1") + "-eth2"
    subprocess.run(["ip", "link", "set", interface, "up" if up else "down"], check=True)
    deadline = time.monotonic() + timeout
    while collect.from_lab(LAB)["s1"].ports[2].live != up:
        assert time.monotonic() < deadline, f"s1 port 2 still {'down' if up else 'live'} after {timeout} s"
        time.sleep(0.1)


@pytest.mark.parametrize(
    "rules, survives", [(PROTECTED, True), (UNPROTECTED, False)], ids=["fast-failover", "plain-output"]
)
def test_failover_verdict_matches_a_real_link_failure(lab, rules, survives):
    api = lab
    _install(api, rules)
    topo = collect.lab_topology(LAB)
    behaviours = parse_spec(SPEC)
    report = grade(topo, collect.from_lab(LAB), behaviours)
    assert [r.passed for r in report.results] == [True, survives]
    healthy = confirm(LAB, topo, collect.from_lab(LAB), behaviours, report)
    assert healthy.findings == () and any(p["observed"] == ["h2"] for p in healthy.live["probes_detail"])
    _set_link(api, up=False)
    try:
        state = collect.from_lab(LAB)  # ports-desc now shows the dead port
        assert not state["s1"].ports[2].live
        confirmed = confirm(LAB, topo, state, behaviours, report, down=[("s1", "s2")])
        assert confirmed.findings == (), confirmed.render_text()
        # The same ICMP packet probes both behaviours (probes are deduplicated); with the link
        # down it reaches h2 only through the fast-failover bucket.
        probe = next(
            p for p in confirmed.live["probes_detail"] if p["behaviour"] in ("normal", "survives-s1-s2")
        )
        assert probe["predicted"] == probe["observed"] == (["h2"] if survives else [])
    finally:
        _set_link(api, up=True)
