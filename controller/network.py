"""What the built-in controller knows about the network: switches, links, hosts.

Filled from the declared topology (``SDNLAB_TOPOLOGY_JSON``, the JSON of
``Topology.to_dict()``), from LLDP discovery and from host packets. Pure state with no I/O;
``graph(weight)`` gives the live switch graph the routing works on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import networkx as nx

from sdnlab.controller.errors import ControllerConfigError

ENV_TOPOLOGY = "SDNLAB_TOPOLOGY_JSON"
CAPACITY_REFERENCE_MBIT = 10000.0


@dataclass(frozen=True)
class Host:
    """A host interface the controller can deliver to."""

    mac: str
    dpid: int
    port_no: int
    ip: str | None = None
    name: str | None = None
    declared: bool = False


@dataclass(frozen=True)
class LinkInfo:
    """Declared properties of a switch-to-switch link."""

    delay_ms: float = 0.0
    bw_mbit: float | None = None


@dataclass
class DiscoveredNetwork:
    """Switches (live ports), inter-switch links and hosts."""

    ports: dict[int, set[int]] = field(default_factory=dict)  # connected dpid -> live ports
    links: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)  # (dpid, port) -> peer
    link_info: dict[frozenset, LinkInfo] = field(default_factory=dict)
    hosts: dict[str, Host] = field(default_factory=dict)  # mac -> host
    declared_links: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)  # dpid -> switch name (declared)
    host_roles: dict[str, tuple[str, ...]] = field(default_factory=dict)  # host name -> roles
    host_macs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # host name -> interface macs
    vnf_ports: set[tuple[int, int]] = field(default_factory=set)  # (dpid, port) of VNF host interfaces

    # -- switches and ports ---------------------------------------------------------------
    def switch_up(self, dpid: int, live_ports: set[int]) -> None:
        """A switch connected with these live ports; declared links touching it come back."""
        self.ports[dpid] = set(live_ports)
        for here, there in self.declared_links.items():
            if here[0] == dpid or there[0] == dpid:
                self.links[here] = there

    def switch_down(self, dpid: int) -> None:
        """A switch disconnected: forget its ports and links."""
        self.ports.pop(dpid, None)
        for here in [h for h, t in self.links.items() if h[0] == dpid or t[0] == dpid]:
            del self.links[here]

    def port_up(self, dpid: int, port_no: int) -> bool:
        """Mark a port live; returns True if that changed the routing graph."""
        self.ports.setdefault(dpid, set()).add(port_no)
        return (dpid, port_no) in self.links

    def port_down(self, dpid: int, port_no: int) -> bool:
        """Mark a port dead; returns True if it carried a link (routing must change)."""
        self.ports.get(dpid, set()).discard(port_no)
        return (dpid, port_no) in self.links

    def add_link(self, a: tuple[int, int], b: tuple[int, int]) -> bool:
        """Record a discovered link (both directions); True if it is new."""
        if self.links.get(a) == b and self.links.get(b) == a:
            return False
        for end in (a, b):  # a port has one peer: drop any stale link on it
            old = self.links.pop(end, None)
            if old is not None:
                self.links.pop(old, None)
        self.links[a] = b
        self.links[b] = a
        return True

    def is_link_port(self, dpid: int, port_no: int) -> bool:
        return (dpid, port_no) in self.links

    def live(self, end: tuple[int, int]) -> bool:
        return end[0] in self.ports and end[1] in self.ports[end[0]]

    def edge_ports(self, dpid: int) -> list[int]:
        """Live ports of ``dpid`` with no switch behind them (where hosts live)."""
        return sorted(p for p in self.ports.get(dpid, ()) if (dpid, p) not in self.links)

    def flood_ports(self, dpid: int) -> list[int]:
        """Edge ports that floods may use: never a VNF (a bump in the wire would loop it back)."""
        return [p for p in self.edge_ports(dpid) if (dpid, p) not in self.vnf_ports]

    # -- hosts ----------------------------------------------------------------------------
    def learn_host(self, mac: str, dpid: int, port_no: int, ip: str | None = None) -> bool:
        """Record that ``mac`` sits behind ``dpid:port_no``; True if new or moved (reroute)."""
        old = self.hosts.get(mac)
        if old is not None and old.dpid == dpid and old.port_no == port_no:
            if ip and old.ip != ip:
                self.hosts[mac] = Host(mac, dpid, port_no, ip, old.name, old.declared)
            return False
        if old is not None and old.declared and self.live((old.dpid, old.port_no)):
            return False  # a declared host does not move because of a stray packet
        self.hosts[mac] = Host(
            mac,
            dpid,
            port_no,
            ip or (old.ip if old else None),
            old.name if old else None,
            old.declared if old else False,
        )
        return True

    def host_by(self, key: str) -> Host | None:
        """A host by MAC, IP or name."""
        key = key.lower()
        if key in self.hosts:
            return self.hosts[key]
        for host in self.hosts.values():
            if host.ip == key or (host.name and host.name.lower() == key):
                return host
        return None

    # -- graph ----------------------------------------------------------------------------
    def graph(self, weight: str = "hops") -> nx.Graph:
        """Live switch graph; edge attrs ``ports`` {dpid: port} and ``w`` (the routing weight)."""
        graph = nx.Graph()
        graph.add_nodes_from(sorted(self.ports))
        for (a, a_port), (b, b_port) in sorted(self.links.items()):
            if a >= b or not self.live((a, a_port)) or not self.live((b, b_port)):
                continue
            w = link_weight(self.link_info.get(frozenset({(a, a_port), (b, b_port)}), LinkInfo()), weight)
            if graph.has_edge(a, b) and graph[a][b]["w"] <= w:
                continue
            graph.add_edge(a, b, ports={a: a_port, b: b_port}, w=w)
        return graph


def link_weight(info: LinkInfo, weight: str) -> float:
    """The routing cost of one link for the configured weight."""
    if weight == "latency":
        return max(info.delay_ms, 0.001)
    if weight == "capacity":
        return CAPACITY_REFERENCE_MBIT / info.bw_mbit if info.bw_mbit else CAPACITY_REFERENCE_MBIT / 1000.0
    return 1.0


def load_declared(state: DiscoveredNetwork, data: dict, source: str = "<topology>") -> None:
    """Add the declared switches' links and hosts of a ``Topology.to_dict()`` dump to ``state``."""
    try:
        nodes = {node["name"]: node for node in data["nodes"]}
        dpids = {name: int(node["dpid"]) for name, node in nodes.items() if node.get("kind") == "switch"}
        for link in data["links"]:
            a, b = link["a"], link["b"]
            if a in dpids and b in dpids:
                here, there = (dpids[a], int(link["a_port"])), (dpids[b], int(link["b_port"]))
                state.declared_links[here] = there
                state.declared_links[there] = here
                state.link_info[frozenset({here, there})] = LinkInfo(
                    float(link.get("delay_ms") or 0.0), link.get("bw_mbit")
                )
            elif a in dpids or b in dpids:
                switch, host = (a, b) if a in dpids else (b, a)
                switch_port = int(link["a_port"] if switch == a else link["b_port"])
                host_index = int(link["b_port"] if switch == a else link["a_port"])
                interfaces = nodes[host].get("interfaces") or []
                if host_index < len(interfaces):
                    intf = interfaces[host_index]
                    mac = intf["mac"].lower()
                    state.hosts[mac] = Host(
                        mac, dpids[switch], switch_port, intf.get("ip"), host, declared=True
                    )
                    if nodes[host].get("kind") == "vnf":
                        state.vnf_ports.add((dpids[switch], switch_port))
        for name, dpid in dpids.items():
            state.names[dpid] = name
        for name, node in nodes.items():
            if node.get("kind") != "switch":
                state.host_roles[name] = tuple(node.get("roles") or ())
                state.host_macs[name] = tuple(i["mac"].lower() for i in node.get("interfaces") or [])
    except (KeyError, TypeError, ValueError) as exc:
        raise ControllerConfigError(f"{source}: not a topology dump: {type(exc).__name__}: {exc}") from exc


def load_declared_from_env(state: DiscoveredNetwork) -> bool:
    """Load ``SDNLAB_TOPOLOGY_JSON`` into ``state`` if set; True if a topology was loaded."""
    path = os.environ.get(ENV_TOPOLOGY)
    if not path:
        return False
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise ControllerConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except ValueError as exc:
        raise ControllerConfigError(f"{path}: not JSON: {exc}") from exc
    load_declared(state, data, path)
    return True
