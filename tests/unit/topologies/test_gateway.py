"""Routed topologies: a host's own prefix (``ip: A/N``) and its default gateway."""

import pytest

from sdnlab.errors import TopologyError
from sdnlab.topologies import load_topology, load_topology_text
from sdnlab.topologies.fastnet import LabHost

ROUTED = """
version: 1
addressing: {subnet: 10.0.0.0/8}
nodes:
  - {name: s1, kind: switch}
  - {name: h1, %s}
  - {name: h2}
links:
  - {a: h1, b: s1}
  - {a: h2, b: s1}
"""


def test_the_router_chapters_hosts_have_their_own_subnets_and_gateways():
    topo = load_topology("three_routers")
    h1, h3 = topo.nodes["h1"], topo.nodes["h3"]
    assert (h1.ip, h1.interfaces[0].prefixlen, h1.gateway) == ("172.16.20.10", 24, "172.16.20.1")
    assert (h3.ip, h3.gateway, h3.mac) == ("192.168.30.10", "192.168.30.1", "00:00:c0:a8:1e:0a")
    assert [(lk.a, lk.b, lk.port_of(lk.a)) for lk in topo.links[3:]] == [("s1", "s2", 2), ("s2", "s3", 3)]
    assert topo.to_dict()["nodes"][3]["gateway"] == "172.16.20.1"


def test_a_host_without_a_prefix_keeps_the_lab_subnets():
    topo = load_topology_text(ROUTED % "ip: 10.1.0.5", "t.yaml")
    assert topo.nodes["h1"].interfaces[0].prefixlen == 8 and topo.nodes["h1"].gateway is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "ip: 10.1.0.5/24, gateway: 10.2.0.1",
            "node 'h1'.gateway: 10.2.0.1 is not another address of the host's network 10.1.0.0/24",
        ),
        (
            "ip: 10.1.0.5/24, gateway: 10.1.0.5",
            "node 'h1'.gateway: 10.1.0.5 is not another address of the host's network",
        ),
        ("ip: 10.1.0.5/24, gateway: router", "node 'h1'.gateway: not an IPv4 address: 'router'"),
        ("ip: 10.1.0.5/4", "node 'h1'.ip: prefix /4 is wider than the lab subnet 10.0.0.0/8"),
        ("ip: 10.1.0.5/99", "node 'h1'.ip: not an IPv4 address (or address/prefix): '10.1.0.5/99'"),
    ],
)
def test_bad_gateways_and_prefixes_are_named_with_their_line(entry, message):
    with pytest.raises(TopologyError) as info:
        load_topology_text(ROUTED % entry, "t.yaml")
    assert f"t.yaml:6: {message}" in str(info.value)


def test_the_host_sets_its_default_route_after_its_address():
    host = LabHost.__new__(LabHost)  # only the command text is built: no shell, no namespace
    host.params = {"gateway": "172.16.20.1"}
    host.intfList = list
    assert host.config_command("172.16.20.10/24", None).endswith("ip route add default via 172.16.20.1")
