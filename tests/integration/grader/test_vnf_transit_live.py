"""Live grading through a bump-in-the-wire VNF: the VNF host sees every transit packet, yet
``h1 -> fw1 -> h2`` is delivered to h2 only (no grader finding), as the static model predicts.

fw1 forwards with a Linux bridge between its two interfaces inside its own namespace: a stand-in
for a firewall VNF that lets this traffic through (what matters here is that frames cross fw1).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sdnlab.errors import LabError
from sdnlab.grader import collect, grade, parse_spec
from sdnlab.grader.live import confirm

pytestmark = pytest.mark.network

LAB = "grvnf"
TOPOLOGY = str(Path(__file__).parent / "topologies" / "gr_vnf_wire.yaml")
# s1: 1=h1 2=fw1-eth0; s2: 1=fw1-eth1 2=h2
PATCH = ["priority=10,in_port=1,actions=output:2", "priority=10,in_port=2,actions=output:1"]
SPEC = """
- id: reach-1
  reach: {src: h1, dst: h2, traffic: icmp}
- id: back
  reach: {src: h2, dst: h1, traffic: icmp}
"""


@pytest.fixture(scope="module")
def lab():
    from sdnlab.runtime import api

    api.up(TOPOLOGY, {}, name=LAB, controller="none")
    try:
        for switch in ("s1", "s2"):
            bridge = api.bridge(LAB, switch)
            subprocess.run(
                ["ovs-ofctl", "-O", "OpenFlow13", "del-flows", bridge], check=True, capture_output=True
            )
            for line in PATCH:
                subprocess.run(
                    ["ovs-ofctl", "-O", "OpenFlow13", "add-flow", bridge, line],
                    check=True,
                    capture_output=True,
                )
        script = (
            "ip link add wire0 type bridge && ip link set fw1-eth0 master wire0"
            " && ip link set fw1-eth1 master wire0 && ip link set wire0 up"
        )
        done = api.run_in(LAB, "fw1", ["sh", "-c", script], timeout=20)
        assert done.returncode == 0, done.stderr
        yield api
    finally:
        try:
            api.down(LAB)
        except LabError:
            pass


def test_transit_vnf_captures_are_not_deliveries(lab):
    topo = collect.lab_topology(LAB)
    state = collect.from_lab(LAB)
    behaviours = parse_spec(SPEC)
    report = grade(topo, state, behaviours)
    assert report.passed
    confirmed = confirm(LAB, topo, state, behaviours, report)
    assert confirmed.findings == ()
    detail = [p for p in confirmed.live["probes_detail"] if p["behaviour"] == "reach-1"]
    assert detail and all(p["observed"] == ["h2"] for p in detail)
