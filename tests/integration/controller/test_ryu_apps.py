"""Ryu-style apps (a trainee corpus and the ryu.app samples) run unchanged on a real network.

One Mininet network (three switches in a line, four hosts) is shared; each test starts its own
controller process with the apps under test, checks that traffic flows, and stops it with
SIGTERM, on which it must exit by itself (not be killed).
"""

from __future__ import annotations

import os
import re
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
from throughput import wait_listening
from waiting import wait_for

from sdnlab.controller.process import ControllerProcess

pytestmark = pytest.mark.network

OF_PORT = 6710
REST_PORT = 8110
CORPUS = os.path.join(os.path.dirname(__file__), "corpus")


class LineTopo(Topo):
    """ct1s1 - ct1s2 - ct1s3; h1, h2 on ct1s1, h3 on ct1s2, h4 on ct1s3."""

    def build(self):
        s1, s2, s3 = (self.addSwitch(f"ct1s{i}", dpid=f"{0x100 + i:016x}") for i in (1, 2, 3))
        for name, switch in (("h1", s1), ("h2", s1), ("h3", s2), ("h4", s3)):
            self.addLink(self.addHost(name), switch)
        self.addLink(s1, s2)
        self.addLink(s2, s3)


@pytest.fixture(scope="module")
def net():
    skip_without_network()
    network = build_net(LineTopo(), OF_PORT)
    try:
        yield network
    finally:
        network.stop()


@pytest.fixture
def controller(net):
    """Start a controller with the given apps on the shared network; stop it afterwards."""
    started = []

    def start(*apps, extra_args=()):
        ctl = ControllerProcess(list(apps), OF_PORT, REST_PORT, extra_args=tuple(extra_args)).start()
        started.append(ctl)
        reset_switches(net, OF_PORT)
        wait_connected(net)
        return ctl

    yield start
    for ctl in started:
        assert_stops_on_sigterm(ctl)
        assert "Traceback" not in ctl.output(), ctl.output()


def all_pairs_ping(net) -> list[tuple[str, str]]:
    """Pairs of hosts that cannot reach each other (first pings may warm up learning)."""
    failures = []
    for src in net.hosts:
        for dst in net.hosts:
            if src is not dst and not ping_until(src, dst, seconds=10):
                failures.append((src.name, dst.name))
    return failures


def eventually(check, seconds: float = 15.0) -> bool:
    """True as soon as ``check()`` is true, False if it never is within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def corpus(name: str) -> str:
    return os.path.join(CORPUS, name)


def ofctl_rest_knows_every_switch() -> None:
    """Wait until ofctl_rest lists the three switches: a switch is connected (what wait_connected
    sees) before its features handshake ends, and until then a request naming it is a 404."""
    wait_for(
        lambda: http("GET", f"http://127.0.0.1:{REST_PORT}/stats/switches") == (200, [257, 258, 259]),
        15,
        "every switch known to ofctl_rest",
        interval=0.2,
    )


def test_trainee_l2_switch_carries_ping_and_tcp(net, controller):
    controller(corpus("l2_switch.py"))
    assert all_pairs_ping(net) == []
    h1, h4 = net.get("h1", "h4")
    h4.cmd("iperf3 -s -1 -D -p 5201")
    wait_listening(h4.cmd, 5201)  # -D returns before the server binds
    out = h1.cmd(f"iperf3 -c {h4.IP()} -t 1 -p 5201 -J")
    assert '"bits_per_second"' in out, out


def test_trainee_port_monitor_logs_port_stats(net, controller):
    ctl = controller(corpus("port_monitor.py"))
    h1, h3 = net.get("h1", "h3")
    assert ping_until(h1, h3)
    deadline = time.monotonic() + 15  # the app asks every second; later on a loaded machine
    while time.monotonic() < deadline and not re.search(
        r"port-stats dpid=257 port=1 rx_packets=[1-9]", ctl.output()
    ):
        time.sleep(0.2)
    assert re.search(r"port-stats dpid=257 port=1 rx_packets=[1-9]", ctl.output())


def test_trainee_rest_app_blocks_and_unblocks_a_host(net, controller):
    controller(corpus("rest_blocker.py"))
    h1, h3 = net.get("h1", "h3")
    assert ping_until(h1, h3)
    status, table = http("GET", f"http://127.0.0.1:{REST_PORT}/blocker/mactable/{0x101:016x}")
    assert status == 200 and h1.MAC() in table
    status, blocked = http("POST", f"http://127.0.0.1:{REST_PORT}/blocker/block", {"mac": h1.MAC()})
    assert status == 200 and blocked == [h1.MAC()]
    assert eventually(lambda: not ping(h1, h3))  # the app's flow-mod is asynchronous
    status, blocked = http("DELETE", f"http://127.0.0.1:{REST_PORT}/blocker/block/{h1.MAC()}")
    assert status == 200 and blocked == []
    assert ping_until(h1, h3)


def test_trainee_simple_switch_13_subclass_counts_and_forwards(net, controller):
    ctl = controller(corpus("counting_switch.py"))
    assert all_pairs_ping(net) == [], diagnose(net, ctl)
    assert re.search(r"counting-switch dpid=25[789] packet_ins=\d+", ctl.output())


def test_trainee_topology_api_app_routes_with_networkx(net, controller):
    ctl = controller(corpus("shortest_path.py"), extra_args=["--observe-links"])
    deadline = time.monotonic() + 25  # os-ken's LLDP discovery is slow on a busy machine
    while time.monotonic() < deadline and "links=4" not in ctl.output():
        time.sleep(0.2)
    assert "topology switches=3 links=4" in ctl.output()
    assert all_pairs_ping(net) == []
    assert re.search(r"path \S+ -> \S+: \[257, 258, 259\]", ctl.output())


def test_ryu_sample_apps_with_ofctl_rest(net, controller):
    controller("ryu.app.simple_monitor_13", "ryu.app.ofctl_rest", "ryu.app.rest_topology")
    assert all_pairs_ping(net) == []
    base = f"http://127.0.0.1:{REST_PORT}"
    ofctl_rest_knows_every_switch()
    status, flows = http("GET", f"{base}/stats/flow/257")
    assert status == 200 and any(flow["priority"] == 1 for flow in flows["257"])
    status, _ = http(
        "POST",
        f"{base}/stats/flowentry/add",
        {"dpid": 257, "priority": 500, "match": {"eth_src": net.get("h2").MAC()}, "actions": []},
    )
    assert status == 200
    assert eventually(lambda: not ping(net.get("h2"), net.get("h4")))
    status, _ = http(
        "POST",
        f"{base}/stats/flowentry/delete_strict",
        {"dpid": 257, "priority": 500, "match": {"eth_src": net.get("h2").MAC()}},
    )
    assert status == 200
    assert ping_until(net.get("h2"), net.get("h4"))
    status, switches = http("GET", f"{base}/v1.0/topology/switches")
    assert status == 200 and len(switches) == 3


@pytest.mark.parametrize(
    "method, path, body, expected_status, expected_words",
    [
        ("POST", "/stats/flowentry/add", b"{not json", 400, "malformed JSON"),
        ("POST", "/stats/flowentry/add", {"dpid": 999, "match": {}}, 404, "999"),
        ("POST", "/stats/flowentry/add", {"dpid": 257, "match": {"eth_colour": 1}}, 400, "eth_colour"),
        ("POST", "/stats/flowentry/add", {"dpid": 257, "actions": [{"type": "TELEPORT"}]}, 400, "TELEPORT"),
        ("POST", "/stats/flowentry/add", {"dpid": 257, "match": {"tcp_dst": 80}}, 400, "BAD_PREREQ"),
        (
            "POST",
            "/stats/flowentry/add",
            {"dpid": 257, "match": {"nw_dst": "10.0.0.999"}},
            400,
            "match.nw_dst: invalid IPv4 address '10.0.0.999'",
        ),
        (
            "POST",
            "/stats/flowentry/add",
            {"dpid": 257, "match": {"dl_type": 2048, "nw_proto": 6, "tp_dst": 99999}},
            400,
            "match.tp_dst: 99999 is out of range",
        ),
        (
            "POST",
            "/stats/flowentry/add",
            {"dpid": 257, "actions": [{"type": "OUTPUT", "port": "abc"}]},
            400,
            "actions[0].port",
        ),
        ("POST", "/stats/flowentry/add", {"dpid": 257, "table_id": 300}, 400, "table_id: 300"),
        ("POST", "/stats/meterentry/add", {"dpid": 257, "meter_id": 1, "bands": "x"}, 400, "bands"),
        ("GET", "/stats/flow/banana", None, 400, "dpid"),
        ("GET", "/stats/desc/4242", None, 404, "4242"),
    ],
)
def test_ofctl_rest_rejects_bad_input_and_stays_up(
    net, controller, method, path, body, expected_status, expected_words
):
    controller("ryu.app.ofctl_rest")
    ofctl_rest_knows_every_switch()
    status, answer = http(method, f"http://127.0.0.1:{REST_PORT}{path}", body)
    assert status == expected_status
    assert expected_words in answer["error"]
    assert http("GET", f"http://127.0.0.1:{REST_PORT}/stats/switches") == (200, [257, 258, 259])
