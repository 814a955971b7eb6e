"""Small Mininet networks shared by the controller's integration tests and benchmarks.

``ring_topo`` builds the broadcast_backbone-like ring the failover measurements use, and
``topology_dump`` writes what the runtime would pass in ``SDNLAB_TOPOLOGY_JSON`` for a running
Mininet network, so the built-in app can be run on hand-built networks too.
"""

from __future__ import annotations

import json
import tempfile


def ring_topo(prefix: str = "ct5", dpid_base: int = 0x500):
    """A Mininet Topo: {prefix}s1..s4 in a ring, playout on s1 and rx2 on s2 (both port 1)."""
    from mininet.topo import Topo

    class Ring(Topo):
        """Switches in a ring (port 2 to the next, port 3 to the previous); hosts on port 1."""

        def build(self):
            switches = [self.addSwitch(f"{prefix}s{i}", dpid=f"{dpid_base + i:016x}") for i in range(1, 5)]
            self.addLink(self.addHost("playout"), switches[0], port2=1)
            self.addLink(self.addHost("rx2"), switches[1], port2=1)
            for i in range(4):
                self.addLink(switches[i], switches[(i + 1) % 4], port1=2, port2=3)

    return Ring()


def topology_dump(net) -> dict:
    """The declared topology of a running Mininet network, in ``Topology.to_dict()`` form."""
    nodes, links = [], []
    for sw in net.switches:
        nodes.append(
            {"name": sw.name, "kind": "switch", "roles": [], "dpid": int(sw.dpid, 16), "interfaces": []}
        )
    for host in net.hosts:
        interfaces = [{"name": str(i), "mac": i.MAC(), "ip": i.IP(), "prefixlen": 8} for i in host.intfList()]
        nodes.append({"name": host.name, "kind": "host", "roles": [], "dpid": None, "interfaces": interfaces})
    for link in net.links:
        a, b = link.intf1.node, link.intf2.node
        links.append(
            {
                "a": a.name,
                "b": b.name,
                "a_port": a.ports[link.intf1],
                "b_port": b.ports[link.intf2],
                "a_intf": str(link.intf1),
                "b_intf": str(link.intf2),
                "bw_mbit": 1000,
                "delay_ms": 2.0,
            }
        )
    return {"name": "ring", "nodes": nodes, "links": links}


def write_json(data) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(data, handle)
    return handle.name
