"""Service function chaining on a real network: TCP to port 5001 goes through a VNF, ping does not.

h1 on ct3s1, h2 on ct3s2, and a bump-in-the-wire VNF host v1 (a Linux bridge between v1-eth0 on
ct3s1 and v1-eth1 on ct3s2). The chain `h1 -> v1 -> h2` for TCP port 5001 is symmetric, so the
replies come back through v1 too. Taking the VNF's bridge down must break the chained TCP flow
and nothing else.
"""

from __future__ import annotations

import json
import tempfile
import time

import pytest
from ctl_netutil import build_net, diagnose, ping_until, reset_switches, skip_without_network, wait_connected
from mininet.topo import Topo
from processes import assert_stops_on_sigterm
from throughput import wait_listening

from sdnlab.controller.apps.builtin import LLDP_INTERVAL_S
from sdnlab.controller.process import ControllerProcess

pytestmark = pytest.mark.network

OF_PORT = 6750
REST_PORT = 8150


class ChainTopo(Topo):
    """h1 - ct3s1 - ct3s2 - h2, with VNF v1 bridging ct3s1 port 2 and ct3s2 port 2."""

    def build(self):
        s1 = self.addSwitch("ct3s1", dpid=f"{0x301:016x}")
        s2 = self.addSwitch("ct3s2", dpid=f"{0x302:016x}")
        h1, h2, v1 = self.addHost("h1"), self.addHost("h2"), self.addHost("v1", ip=None)
        self.addLink(h1, s1, port2=1)
        self.addLink(h2, s2, port2=1)
        self.addLink(v1, s1, port2=2)
        self.addLink(v1, s2, port2=2)
        self.addLink(s1, s2, port1=3, port2=3)


def topology_dump(net) -> dict:
    """The declared topology the runtime would pass (Topology.to_dict() format)."""

    def host(name, roles, kind="host"):
        node = net.get(name)
        interfaces = [{"name": str(i), "mac": i.MAC(), "ip": i.IP(), "prefixlen": 8} for i in node.intfList()]
        return {
            "name": name,
            "kind": kind,
            "roles": roles,
            "dpid": None,
            "ip": interfaces[0]["ip"],
            "mac": interfaces[0]["mac"],
            "interfaces": interfaces,
        }

    switches = [
        {"name": s, "kind": "switch", "roles": [], "dpid": d, "ip": None, "mac": None, "interfaces": []}
        for s, d in (("ct3s1", 0x301), ("ct3s2", 0x302))
    ]
    links = [
        ("h1", "ct3s1", 0, 1),
        ("h2", "ct3s2", 0, 1),
        ("v1", "ct3s1", 0, 2),
        ("v1", "ct3s2", 1, 2),
        ("ct3s1", "ct3s2", 3, 3),
    ]
    return {
        "name": "chain",
        "nodes": [*switches, host("h1", ["client"]), host("h2", ["server"]), host("v1", ["vnf"], "vnf")],
        "links": [
            {
                "a": a,
                "b": b,
                "a_port": ap,
                "b_port": bp,
                "a_intf": "",
                "b_intf": "",
                "bw_mbit": None,
                "delay_ms": None,
                "loss_pct": None,
            }
            for a, b, ap, bp in links
        ],
    }


def write_json(data) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(data, handle)
    return handle.name


@pytest.fixture(scope="module")
def chain_net():
    skip_without_network()
    net = build_net(ChainTopo(), OF_PORT)
    try:
        v1 = net.get("v1")
        for cmd in (
            "ip link add br0 type bridge",
            "ip link set v1-eth0 master br0",
            "ip link set v1-eth1 master br0",
            "ip addr flush dev v1-eth0",
            "ip link set br0 up",
        ):
            v1.cmd(cmd)
        config = {
            "chains": [
                {
                    "name": "inspect-5001",
                    "match": {"src": "h1", "dst": "h2", "ip_proto": "tcp", "dst_port": 5001},
                    "vnfs": ["v1"],
                }
            ]
        }
        env = {
            "SDNLAB_TOPOLOGY_JSON": write_json(topology_dump(net)),
            "SDNLAB_CONTROLLER_CONFIG": write_json(config),
        }
        ctl = ControllerProcess(["sdnlab.controller.apps.builtin"], OF_PORT, REST_PORT, env=env).start()
        try:
            reset_switches(net, OF_PORT)
            wait_connected(net)
            yield net, ctl
        finally:
            assert_stops_on_sigterm(ctl)
    finally:
        net.stop()


def rx_packets(host, intf: str) -> int:
    return int(host.cmd(f"cat /sys/class/net/{intf}/statistics/rx_packets").strip())


def tcp_works(net, port: int) -> bool:
    h1, h2 = net.get("h1", "h2")
    h2.cmd(f"iperf3 -s -1 -D -p {port}")
    wait_listening(h2.cmd, port)  # -D returns before the server binds
    # a connection that cannot be made fails after 5 s (SYNs at 0, 1 and 3 s); one that was
    # made gets 15 s for its 1 s of data on a loaded machine
    out = h1.cmd(f"timeout 15 iperf3 -c {h2.IP()} -p {port} -t 1 -J --connect-timeout 5000")
    h2.cmd(f"pkill -f 'iperf3 -s -1 -D -p {port}'")
    return '"sum_received"' in out and '"error"' not in out


def test_chained_tcp_flows_through_the_vnf_both_ways(chain_net):
    net, ctl = chain_net
    h1, h2, v1 = net.get("h1", "h2", "v1")
    assert ping_until(h1, h2), diagnose(net, ctl)
    into, back = rx_packets(v1, "v1-eth0"), rx_packets(v1, "v1-eth1")
    assert tcp_works(net, 5001), diagnose(net, ctl)
    assert rx_packets(v1, "v1-eth0") - into > 50  # h1 -> h2 data entered by eth0
    assert rx_packets(v1, "v1-eth1") - back > 20  # h2 -> h1 acks entered by eth1 (symmetric)


def test_unchained_traffic_bypasses_the_vnf(chain_net):
    net, _ctl = chain_net
    h1, h2, v1 = net.get("h1", "h2", "v1")
    started, into = time.monotonic(), rx_packets(v1, "v1-eth0")
    assert tcp_works(net, 5002)
    assert ping_until(h1, h2)
    entered, elapsed = rx_packets(v1, "v1-eth0") - into, time.monotonic() - started
    # the controller's LLDP probes enter the VNF's ports too, one per LLDP_INTERVAL_S (twice that
    # allowed); the 1 s TCP flow alone would be thousands of packets
    assert entered < 10 + 2 * elapsed / LLDP_INTERVAL_S, (
        f"{entered} packets entered v1-eth0 in {elapsed:.1f} s"
    )


def test_a_dead_vnf_breaks_only_its_chain(chain_net):
    net, _ctl = chain_net
    v1 = net.get("v1")
    v1.cmd("ip link set br0 down")
    try:
        assert not tcp_works(net, 5001)
        assert tcp_works(net, 5002)
    finally:
        v1.cmd("ip link set br0 up")
