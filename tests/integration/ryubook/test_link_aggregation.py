"""Ryu book, link aggregation chapter: an LACP-bonded host on the book's set-up.

The kernel here has no bonding driver; the catalogue's ``link_aggregation`` topology declares h1
with ``bond: {lacp: active}``, which sdnlab builds as a small Open vSwitch bond for the host
(see sdnlab.topologies.bond). The chapter's app (apps/simple_switch_lacp_13.py, on
ryu.lib.lacplib) runs in sdnlab's runner on real Open vSwitch + Mininet: the host's bond and the
app exchange LACP data units and both members come up; h1 reaches every host; when one member
link is cut, lacplib times it out (the app logs it) and h1 is still reachable over the other;
at teardown the bond's bridge and veths are gone.
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import pytest
import waiting

from sdnlab.runtime import api, paths
from sdnlab.topologies import load_topology
from sdnlab.topologies.bond import bond_plans

pytestmark = pytest.mark.network

APPS = Path(__file__).parent / "apps"
LAB = "t-rb-lacp"
SLAVE_LINE = re.compile(r"SLAVE-STATE dpid=([0-9a-f]{16}) port=(\d+) enabled=(True|False)")


def member_states(name: str) -> dict[int, list[bool]]:
    """Port of switch 1 -> the member states lacplib reported to the app, in order."""
    text = (paths.lab_dir(name) / "controller.log").read_text(errors="replace")
    states: dict[int, list[bool]] = {}
    for dpid, port, enabled in SLAVE_LINE.findall(text):
        if int(dpid, 16) == 1:
            states.setdefault(int(port), []).append(enabled == "True")
    return states


# a wait that times out shows the last bond member states
wait_for = functools.partial(waiting.wait_for, detail=lambda: member_states(LAB))


def ping(src: str, dst_ip: str) -> bool:
    return api.run_in(LAB, src, ["ping", "-c", "1", "-W", "1", dst_ip], timeout=10).returncode == 0


def lacp_status(bond_port: str) -> str:
    return subprocess.run(["ovs-appctl", "lacp/show", bond_port], capture_output=True, text=True).stdout


def test_bonded_host_negotiates_lacp_and_survives_a_member_cut(lab_factory):
    state = lab_factory(
        "link_aggregation", {}, name=LAB, controller=f"app:{APPS / 'simple_switch_lacp_13.py'}"
    )
    ips = {h["name"]: h["ip"] for h in state["hosts"]}
    (plan,) = bond_plans(load_topology("link_aggregation"), state["slot"])

    # LACP data units both ways: lacplib brings up both members (s1 ports 1 and 2) ...
    wait_for(lambda: member_states(LAB).get(1) == [True] and member_states(LAB).get(2) == [True], 15, "up")
    log = (paths.lab_dir(LAB) / "controller.log").read_text(errors="replace")
    assert "PORT=1 LACP received" in log and "PORT=1 LACP sent" in log
    # ... and the host's bond took the app as its LACP partner on both members (OVS reads the
    # app's answers a moment after the app has logged them)
    in_sync = "partner state: timeout aggregation synchronized collecting distributing"
    wait_for(lambda: lacp_status(plan.port).count(in_sync) == 2, 10, "in sync with the app")
    assert "status: active negotiated" in lacp_status(plan.port)

    # h1 (one interface, bond0) reaches every host, through flows on s1
    assert api.run_in(LAB, "h1", ["ip", "-o", "link", "show", "bond0"]).returncode == 0
    for host in ("h2", "h3", "h4"):
        assert ping("h1", ips[host]) or ping("h1", ips[host]), host

    # cut the member on s1 port 1: lacplib times it out, the app forgets its flows, h1 stays reachable
    subprocess.run(["ip", "link", "set", plan.members[0], "down"], check=True)
    wait_for(lambda: member_states(LAB).get(1, [])[-1:] == [False], 10, "timed out on port 1")
    assert member_states(LAB)[2] == [True]
    for host in ("h2", "h3", "h4"):
        assert ping(host, ips["h1"]) or ping(host, ips["h1"]), host
    flows = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", api.bridge(LAB, "s1")], capture_output=True, text=True
    ).stdout
    assert "actions=output:1" not in flows, flows  # nothing is sent into the cut member any more

    # the member comes back: LACP again, port 1 up again
    subprocess.run(["ip", "link", "set", plan.members[0], "up"], check=True)
    wait_for(lambda: member_states(LAB).get(1, [])[-1:] == [True], 15, "back up on port 1")

    api.down(LAB)
    bridges = subprocess.run(["ovs-vsctl", "list-br"], capture_output=True, text=True).stdout.split()
    assert plan.bridge not in bridges
    assert not [i for i in plan.interfaces if Path(f"/sys/class/net/{i}").exists()]
