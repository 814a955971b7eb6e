"""Blame names the trainee's file and line of an installed rule (issue 11 item 5), on a real OVS bridge.

A rule file with comments and blank lines is installed with ``ovs-ofctl add-flows``; the state is
collected back with ``dump-flows`` (whose line numbers differ from the file's) and mapped to the
file with ``collect.with_sources``. Without the mapping, a rule is named plainly as a dump line.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from sdnlab.grader import collect
from sdnlab.grader.grading import grade
from sdnlab.grader.model import NetworkState, SwitchState
from sdnlab.grader.ofctl_text import parse_flows
from sdnlab.grader.report import render_failure
from sdnlab.grader.spec import parse_spec
from sdnlab.topologies import load_topology

pytestmark = pytest.mark.network

BRIDGE = "grblame0"
S2 = """# s2: h2 on port 1, s1 on port 2, s3 on port 3
priority=10,ip,nw_dst=10.0.0.1,actions=output:2

priority=20,ip,nw_dst=10.0.0.3,actions=drop
priority=10,ip,nw_dst=10.0.0.2,actions=output:1
priority=5,arp,actions=FLOOD
"""
FORWARD = "priority=5,ip actions=output:2\npriority=5,arp actions=FLOOD\n"
OTHERS = {
    "s1": "priority=10,ip,nw_dst=10.0.0.1 actions=output:1\n" + FORWARD,
    "s3": "priority=10,ip,nw_dst=10.0.0.3 actions=output:1\n" + FORWARD,
}


@pytest.fixture
def bridge():
    if os.geteuid() != 0 or shutil.which("ovs-vsctl") is None:
        pytest.skip("needs root and Open vSwitch")
    if subprocess.run(["ovs-vsctl", "show"], capture_output=True).returncode != 0:
        pytest.skip("Open vSwitch is not running")
    subprocess.run(["ovs-vsctl", "--if-exists", "del-br", BRIDGE], check=True)
    subprocess.run(
        ["ovs-vsctl", "add-br", BRIDGE, "--", "set", "bridge", BRIDGE, "datapath_type=netdev",
         "protocols=OpenFlow13", "fail_mode=secure"],
        check=True,
    )  # fmt: skip
    yield BRIDGE
    subprocess.run(["ovs-vsctl", "--if-exists", "del-br", BRIDGE], check=True)


def _failure(state: NetworkState):
    topo = load_topology("linear", {"switches": 3, "hosts_per_switch": 1})
    spec = parse_spec("- reach: {src: h1, dst: h3, traffic: icmp}\n", "spec.yaml")
    (result,) = grade(topo, state, spec).results
    assert not result.passed
    return result.failures[0]


def test_blame_cites_the_workspace_file_and_line_of_an_installed_rule(bridge, tmp_path):
    s2_file = tmp_path / "s2.flows"
    s2_file.write_text(S2)
    subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "add-flows", bridge, str(s2_file)], check=True)
    installed = collect.from_bridges({"s2": bridge})
    state = NetworkState(
        {
            **{s: SwitchState(s, parse_flows(t, f"{s}.flows")) for s, t in OTHERS.items()},
            "s2": installed["s2"],
        }
    )
    dumped = _failure(state).blame
    assert dumped["switch"] == "s2" and dumped["where"].startswith("dump-flows s2 line ")
    written = NetworkState({"s2": SwitchState("s2", parse_flows(S2, str(s2_file)))})
    failure = _failure(collect.with_sources(state, written))
    located = failure.blame
    assert located["where"] == f"{s2_file}:4" and located["line"] == 4  # the drop rule, line 4 of the file
    assert f"(cookie 0x0, {s2_file}:4)" in render_failure(failure)
