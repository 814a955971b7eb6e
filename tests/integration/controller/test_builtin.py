"""The built-in app on a real looped network: discovery, routing, failover, quarantine, reconnect.

A four-switch ring (ct2s1..ct2s4, one host each) with no declared topology: the controller must
discover the loop by LLDP and still deliver every ping without a broadcast storm.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time

import pytest
from ctl_netutil import (
    build_net,
    diagnose,
    http,
    ping,
    ping_until,
    reset_switches,
    skip_without_network,
    wait_connected,
)
from mininet.topo import Topo
from processes import assert_stops_on_sigterm

from sdnlab.controller.process import ControllerProcess

pytestmark = pytest.mark.network

OF_PORT = 6720
REST_PORT = 8120
BASE = f"http://127.0.0.1:{REST_PORT}"


class RingTopo(Topo):
    """ct2s1..ct2s4 in a ring; host hN on ct2sN (port 1); ring links on ports 2 and 3."""

    def build(self):
        switches = [self.addSwitch(f"ct2s{i}", dpid=f"{0x200 + i:016x}") for i in range(1, 5)]
        for i, switch in enumerate(switches, 1):
            self.addLink(self.addHost(f"h{i}"), switch)
        for i in range(4):
            self.addLink(switches[i], switches[(i + 1) % 4])


def all_pairs_ping(net) -> list[tuple[str, str]]:
    return [
        (a.name, b.name)
        for a in net.hosts
        for b in net.hosts
        if a is not b and not ping_until(a, b, seconds=10)
    ]


def dump_flows(switch: str) -> str:
    return subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", switch], capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def net():
    skip_without_network()
    network = build_net(RingTopo(), OF_PORT)
    try:
        yield network
    finally:
        network.stop()


def start_builtin(net, config: dict | None = None) -> ControllerProcess:
    env = {}
    if config is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(config, handle)
        env["SDNLAB_CONTROLLER_CONFIG"] = handle.name
    ctl = ControllerProcess(["sdnlab.controller.apps.builtin"], OF_PORT, REST_PORT, env=env).start()
    reset_switches(net, OF_PORT)
    wait_connected(net)
    deadline = time.monotonic() + 30  # LLDP discovery; slow on a loaded machine (the tests check it)
    while time.monotonic() < deadline:
        status, body = http("GET", f"{BASE}/sdnlab/status")
        if status == 200 and len(body["links"]) == 4:
            break
        time.sleep(0.2)
    return ctl


@pytest.fixture(scope="module")
def routing(net):
    ctl = start_builtin(net)
    try:
        yield ctl
    finally:
        assert_stops_on_sigterm(ctl)
        assert "Traceback" not in ctl.output(), ctl.output()


def test_discovers_the_ring_and_routes_every_pair_without_storms(net, routing):
    status, body = http("GET", f"{BASE}/sdnlab/status")
    assert status == 200 and len(body["links"]) == 4, body
    assert all_pairs_ping(net) == [], diagnose(net, routing)
    # no storm: the controller saw a bounded number of packet-ins on the ring links
    flows = dump_flows("ct2s1")
    miss = next(line for line in flows.splitlines() if "table=1" in line and "priority=0 " in line)
    assert int(miss.split("n_packets=")[1].split(",")[0]) < 500, flows


def test_serves_ryu_rest_topology_from_its_own_view(net, routing):
    status, switches = http("GET", f"{BASE}/v1.0/topology/switches")
    assert status == 200 and sorted(s["dpid"] for s in switches) == [f"{0x200 + i:016x}" for i in range(1, 5)]
    assert {p["name"] for p in switches[0]["ports"]} == {"ct2s1-eth1", "ct2s1-eth2", "ct2s1-eth3"}
    status, links = http("GET", f"{BASE}/v1.0/topology/links")
    assert status == 200 and len(links) == 8, links  # four ring links, both directions
    h1 = net.get("h1")
    assert ping_until(h1, net.get("h2"))
    status, hosts = http("GET", f"{BASE}/v1.0/topology/hosts/{0x201:016x}")
    assert status == 200 and [h["mac"] for h in hosts] == [h1.MAC()], hosts
    assert hosts[0]["port"]["name"] == "ct2s1-eth1"


def test_shortest_path_is_reported_and_installed(net, routing):
    h1, h3 = net.get("h1", "h3")
    assert ping_until(h1, h3)
    status, body = http("GET", f"{BASE}/sdnlab/path/{h1.IP()}/{h3.IP()}")
    assert status == 200 and len(body["path"]) == 3 and body["path"][0] == 0x201 and body["path"][-1] == 0x203
    deadline = time.monotonic() + 10  # the route's flow-mods may still be on their way
    while f"dl_dst={h3.MAC()}" not in (flows := dump_flows("ct2s1")):
        assert time.monotonic() < deadline, flows
        time.sleep(0.2)


def test_reroutes_when_a_ring_link_goes_down(net, routing):
    h1, h2 = net.get("h1", "h2")
    assert ping_until(h1, h2)
    net.configLinkStatus("ct2s1", "ct2s2", "down")
    try:
        assert ping_until(h1, h2, seconds=15), diagnose(net, routing)
        _status, body = http("GET", f"{BASE}/sdnlab/path/{h1.IP()}/{h2.IP()}")
        assert body["path"] == [0x201, 0x204, 0x203, 0x202]
    finally:
        net.configLinkStatus("ct2s1", "ct2s2", "up")
    # the port comes back (port status, then LLDP): the direct path returns, within a second
    # on a quiet machine, later on a busy one
    deadline = time.monotonic() + 15
    while (path := http("GET", f"{BASE}/sdnlab/path/{h1.IP()}/{h2.IP()}")[1]["path"]) != [0x201, 0x202]:
        assert time.monotonic() < deadline, f"path still {path} 15 s after the link came back"
        time.sleep(0.2)


def test_quarantine_over_rest_drops_a_host_until_released(net, routing):
    h1, h3 = net.get("h1", "h3")
    assert ping_until(h1, h3)
    status, entry = http("POST", f"{BASE}/sdnlab/quarantine", {"ip": h3.IP(), "reason": "dpi: malware"})
    assert status == 200 and entry["mac"] == h3.MAC()
    deadline = time.monotonic() + 15  # answered after a barrier; allow for a very busy machine
    while ping(h1, h3) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not ping(h1, h3)
    assert http("GET", f"{BASE}/sdnlab/quarantine")[1]["quarantined"][0]["reason"] == "dpi: malware"
    status, _ = http("DELETE", f"{BASE}/sdnlab/quarantine/{h3.IP()}")
    assert status == 200
    assert ping_until(h1, h3)


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{oops", 400),
        ({"ip": 5}, 400),
        ({"ip": "10.0.0.1", "mac": "00:00:00:00:00:01"}, 400),
        ({"host": "nosuchhost"}, 404),
    ],
)
def test_quarantine_rejects_bad_requests(routing, body, status):
    assert http("POST", f"{BASE}/sdnlab/quarantine", body)[0] == status


def test_reconnecting_switch_gets_its_flows_back(net, routing):
    h1, h4 = net.get("h1", "h4")
    assert ping_until(h1, h4)
    subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "del-flows", "ct2s1"], check=True)
    subprocess.run(["ovs-vsctl", "del-controller", "ct2s1"], check=True)
    subprocess.run(["ovs-vsctl", "set-controller", "ct2s1", f"tcp:127.0.0.1:{OF_PORT}"], check=True)
    deadline = time.monotonic() + 15  # generous: the shared test machine can be very busy
    flows = ""
    while time.monotonic() < deadline and not ("goto_table:1" in flows and f"dl_dst={h4.MAC()}" in flows):
        time.sleep(0.2)  # the pipeline comes back first, the routes after it
        flows = dump_flows("ct2s1")
    assert "goto_table:1" in flows and f"dl_dst={h4.MAC()}" in flows, diagnose(net, routing)
    assert ping_until(h1, h4)
