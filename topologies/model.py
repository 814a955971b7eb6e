"""Typed topology objects: what a validated topology file becomes.

A ``Topology`` is a description only (like a Mininet ``Topo``): nodes (hosts, servers, VNF hosts,
switches), links with their declared bandwidth/delay/loss, and resolved addresses. Nothing here
touches the network; ``sdnlab.topologies.mininet_build`` turns it into a running Mininet network.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import networkx as nx

HOST_KINDS = ("host", "server", "vnf")
NODE_KINDS = (*HOST_KINDS, "switch")


@dataclass(frozen=True)
class Parameter:
    """A declared topology parameter with its default and bounds."""

    name: str
    default: int
    minimum: int | None = None
    maximum: int | None = None
    description: str = ""


@dataclass(frozen=True)
class Interface:
    """A host interface: ``h1-eth0`` with its address (ip is None for unaddressed VNF ports)."""

    name: str
    mac: str
    ip: str | None = None
    prefixlen: int | None = None


BOND_MODES = ("balance-slb", "active-backup", "balance-tcp")
LACP_MODES = ("active", "passive", "off")


@dataclass(frozen=True)
class Bond:
    """A host's interfaces bonded into one (what Linux bonding gives, built with a small OVS bond).

    The host sees one interface, ``bond0``, with its first interface's address and MAC; its links
    are the bond's members, which speak LACP (``lacp``) and share traffic by ``mode``.
    """

    lacp: str = "active"
    mode: str = "balance-slb"


@dataclass(frozen=True)
class Node:
    """A host, server, VNF host or switch of the topology."""

    name: str
    kind: str
    roles: tuple[str, ...] = ()
    dpid: int | None = None
    interfaces: tuple[Interface, ...] = ()
    line: int = 0
    bond: Bond | None = None
    gateway: str | None = None  # the host's default route (hosts in routed topologies)

    @property
    def is_switch(self) -> bool:
        return self.kind == "switch"

    @property
    def ip(self) -> str | None:
        return self.interfaces[0].ip if self.interfaces else None

    @property
    def mac(self) -> str | None:
        return self.interfaces[0].mac if self.interfaces else None

    @property
    def role(self) -> str:
        """The first role, or the kind when the node has none."""
        return self.roles[0] if self.roles else self.kind


@dataclass(frozen=True)
class Link:
    """A link between two nodes; ports are OpenFlow port numbers on switches, interface indexes on hosts."""

    a: str
    b: str
    a_port: int
    b_port: int
    a_intf: str
    b_intf: str
    bw_mbit: float | None = None
    delay_ms: float | None = None
    loss_pct: float | None = None
    line: int = 0

    def port_of(self, node: str) -> int:
        return self.a_port if node == self.a else self.b_port

    def other(self, node: str) -> str:
        return self.b if node == self.a else self.a

    @property
    def label(self) -> str:
        return f"{self.a}-{self.b}"


@dataclass(frozen=True)
class Topology:
    """A validated, fully expanded topology."""

    name: str
    description: str
    params: dict
    parameters: tuple[Parameter, ...]
    nodes: dict = field(default_factory=dict)  # name -> Node, in declaration order
    links: tuple[Link, ...] = ()
    subnet: str = "10.0.0.0/8"
    source: str = ""
    ovsdb: int | None = None  # the switches' OVSDB open to the controller on 127.0.0.1:<port>

    def switches(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.is_switch]

    def hosts(self) -> list[Node]:
        """Hosts, servers and VNF hosts: everything Mininet runs as a host."""
        return [n for n in self.nodes.values() if not n.is_switch]

    def with_role(self, role: str) -> list[Node]:
        return [n for n in self.nodes.values() if role in n.roles]

    def links_of(self, node: str) -> list[Link]:
        return [link for link in self.links if node in (link.a, link.b)]

    def port(self, switch: str, neighbour: str) -> int:
        """OpenFlow port on ``switch`` facing ``neighbour`` (the first link if there are several)."""
        for link in self.links:
            if {link.a, link.b} == {switch, neighbour} and switch != neighbour:
                return link.port_of(switch)
        raise KeyError(f"no link {switch}-{neighbour}")

    def graph(self) -> nx.MultiGraph:
        """The topology as a networkx MultiGraph; edges: ports {node: port}, bw_mbit, delay_ms, loss_pct."""
        graph = nx.MultiGraph(name=self.name)
        for node in self.nodes.values():
            graph.add_node(
                node.name, kind=node.kind, roles=node.roles, dpid=node.dpid, ip=node.ip, mac=node.mac
            )
        for link in self.links:
            graph.add_edge(
                link.a,
                link.b,
                key=f"{link.a}:{link.a_port}-{link.b}:{link.b_port}",
                ports={link.a: link.a_port, link.b: link.b_port},
                bw_mbit=link.bw_mbit,
                delay_ms=link.delay_ms or 0.0,
                loss_pct=link.loss_pct or 0.0,
            )
        return graph

    def path_latency_ms(self, path: list[str]) -> float:
        """Sum of declared link delays along a node path (lowest-delay link between each pair)."""
        total = 0.0
        for a, b in itertools.pairwise(path):
            delays = [lk.delay_ms or 0.0 for lk in self.links if {lk.a, lk.b} == {a, b}]
            if not delays:
                raise KeyError(f"no link {a}-{b}")
            total += min(delays)
        return total

    def to_dict(self) -> dict:
        """Plain data (JSON-ready) view, used by `topo show --json` and passed to controller apps."""
        return {
            "name": self.name,
            "description": self.description,
            "params": dict(self.params),
            "subnet": self.subnet,
            "nodes": [
                {
                    "name": n.name,
                    "kind": n.kind,
                    "roles": list(n.roles),
                    "dpid": n.dpid,
                    "ip": n.ip,
                    "mac": n.mac,
                    "interfaces": [
                        {"name": i.name, "mac": i.mac, "ip": i.ip, "prefixlen": i.prefixlen}
                        for i in n.interfaces
                    ],
                    **({"bond": {"lacp": n.bond.lacp, "mode": n.bond.mode}} if n.bond else {}),
                    **({"gateway": n.gateway} if n.gateway else {}),
                }
                for n in self.nodes.values()
            ],
            "links": [
                {
                    "a": lk.a,
                    "b": lk.b,
                    "a_port": lk.a_port,
                    "b_port": lk.b_port,
                    "a_intf": lk.a_intf,
                    "b_intf": lk.b_intf,
                    "bw_mbit": lk.bw_mbit,
                    "delay_ms": lk.delay_ms,
                    "loss_pct": lk.loss_pct,
                }
                for lk in self.links
            ],
        }


LAST_SLOT = 99  # validation checks interface names in every slot up to this one (see bridge_name)
IFNAME_MAX = 15  # Linux interface names (IFNAMSIZ - 1)


def bridge_name(switch: str, slot: int) -> str:
    """OVS bridge name for a topology switch in the lab occupying ``slot``."""
    return switch if slot == 0 else f"l{slot}{switch}"


def longest_switch_port_name(switch: str, port: int) -> str:
    """The longest name switch port ``port`` gets in any slot up to ``LAST_SLOT`` (``l99s1-eth3``)."""
    return f"{bridge_name(switch, LAST_SLOT)}-eth{port}"
