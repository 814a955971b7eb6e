"""Multi-switch propagation of header spaces across a lab topology.

``Wiring`` is the grader's view of a topology: switches, hosts with addresses, and which
(switch, port) faces which node. ``Network(fabric, state).inject(host, space)`` follows the
space from the host's access port through every switch pipeline and returns a tree whose
leaves say what happened to each part of the space: ``Delivered`` to a host, ``Dropped`` at a
switch, ``Lost`` on a dead or unconnected port, ``ToControllerLeaf`` or ``Looped``. Each leaf
keeps its hop-by-hop path (switch, in_port, rules, out_port). VNF hosts (kind ``vnf``) are
bumps in the wire: a packet reaching eth0 leaves on eth1 and vice versa, unchanged (their own
policy is not flow rules and is not modelled); it appears in the path as a hop named after the VNF.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sdnlab.grader.errors import SpecError
from sdnlab.grader.fields import FIELDS
from sdnlab.grader.headerspace import Space
from sdnlab.grader.model import NetworkState, SwitchState
from sdnlab.grader.pipeline import Drop, Emit, Fork, Node, Steps, SwitchPipeline, ToController

MAX_HOPS = 32
Endpoint = tuple[str, int]  # (node, port)
LinkInfo = tuple[Endpoint, Endpoint, float]  # (a, b, delay in ms)
MAX_VISITS = 4000  # switch visits per injected class; flooding in a cyclic topology explodes otherwise


@dataclass(frozen=True)
class HostInfo:
    name: str
    kind: str
    roles: tuple[str, ...]
    ip: str | None
    mac: str | None


@dataclass(frozen=True)
class Wiring:
    """Switches, hosts and wiring of a topology, as the grader needs them."""

    switches: dict[str, int | None]  # name -> dpid
    hosts: dict[str, HostInfo]  # name -> HostInfo
    wiring: dict[Endpoint, Endpoint]  # (switch, port) -> (node, port)
    attachment: dict[str, Endpoint]  # host -> (switch, port)
    links: tuple[LinkInfo, ...] = ()  # ((a, a_port), (b, b_port), delay_ms)
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)  # node -> roles (switches too)
    host_ports: dict[Endpoint, Endpoint] = field(default_factory=dict)  # (host, interface) -> (switch, port)

    @classmethod
    def from_topology(cls, topology: Any) -> Wiring:
        """From a ``sdnlab.topologies.Topology`` or its ``to_dict()``."""
        data = topology.to_dict() if hasattr(topology, "to_dict") else topology
        switches: dict[str, int | None] = {}
        hosts: dict[str, HostInfo] = {}
        roles: dict[str, tuple[str, ...]] = {}
        for node in data["nodes"]:
            roles[node["name"]] = tuple(node.get("roles") or ())
            if node["kind"] == "switch":
                switches[node["name"]] = node.get("dpid")
            else:
                hosts[node["name"]] = HostInfo(
                    node["name"],
                    node["kind"],
                    tuple(node.get("roles") or ()),
                    node.get("ip"),
                    node.get("mac"),
                )
        wiring: dict[Endpoint, Endpoint] = {}
        attachment: dict[str, Endpoint] = {}
        links: list[LinkInfo] = []
        host_ports: dict[Endpoint, Endpoint] = {}
        for link in data["links"]:
            a, b, ap, bp = link["a"], link["b"], link["a_port"], link["b_port"]
            if a in switches:
                wiring[(a, ap)] = (b, bp)
            if b in switches:
                wiring[(b, bp)] = (a, ap)
            if a in hosts and b in switches and a not in attachment and ap == 0:
                attachment[a] = (b, bp)
            if b in hosts and a in switches and b not in attachment and bp == 0:
                attachment[b] = (a, ap)
            if a in hosts and b in switches:
                host_ports[(a, ap)] = (b, bp)
            if b in hosts and a in switches:
                host_ports[(b, bp)] = (a, ap)
            links.append(((a, ap), (b, bp), float(link.get("delay_ms") or 0.0)))
        return cls(switches, hosts, wiring, attachment, tuple(links), roles, host_ports)

    def transit_port(self, vnf: str, interface: int) -> tuple[int, Endpoint] | None:
        """Where a bump-in-the-wire VNF re-emits a packet received on ``interface``:
        (out interface, (switch, port)). eth0<->eth1; a one-armed VNF sends it back out the same
        interface; None for other interfaces (management ports)."""
        if (vnf, 1) not in self.host_ports:
            out = 0 if interface == 0 else None
        else:
            out = 1 - interface if interface in (0, 1) else None
        if out is None or (vnf, out) not in self.host_ports:
            return None
        return out, self.host_ports[(vnf, out)]

    def switch_ports(self, switch: str) -> tuple[int, ...]:
        """The ports of ``switch`` that the topology wires to something."""
        return tuple(sorted(port for (s, port) in self.wiring if s == switch))

    def link_between(self, a: str, b: str) -> LinkInfo | None:
        """The first link between nodes ``a`` and ``b`` (either direction), or None."""
        for link in self.links:
            if {link[0][0], link[1][0]} == {a, b}:
                return link
        return None

    def neighbours(self, node: str) -> list[str]:
        """Nodes linked to ``node``."""
        out = []
        for (x, _), (y, _), _ in self.links:
            if x == node:
                out.append(y)
            elif y == node:
                out.append(x)
        return out


@dataclass(frozen=True)
class Hop:
    switch: str
    in_port: int
    steps: Steps
    out_port: int | None = None


Hops = tuple[Hop, ...]


class Delivered:
    __slots__ = ("hops", "host", "space")
    kind = "delivered"

    def __init__(self, host: str, space: Space, hops: Hops):
        self.host, self.space, self.hops = host, space, hops


class Dropped:
    __slots__ = ("at_ingress", "hops", "reason", "space")
    kind = "dropped"

    def __init__(self, space: Space, reason: str, hops: Hops, at_ingress: bool):
        self.space, self.reason, self.hops, self.at_ingress = space, reason, hops, at_ingress


class Lost:
    __slots__ = ("hops", "reason", "space")
    kind = "lost"

    def __init__(self, space: Space, reason: str, hops: Hops):
        self.space, self.reason, self.hops = space, reason, hops


class ToControllerLeaf:
    __slots__ = ("hops", "space")
    kind = "controller"

    def __init__(self, space: Space, hops: Hops):
        self.space, self.hops = space, hops


class Looped:
    """Packets that come back to a (switch, port) with the same header, or that are still being
    forwarded when the exploration budget runs out (a broadcast storm in a cyclic topology)."""

    __slots__ = ("hops", "reason", "space")
    kind = "loop"

    def __init__(self, space: Space, hops: Hops, reason: str = "forwarding loop"):
        self.space, self.hops, self.reason = space, hops, reason


_IN_PORT = FIELDS["in_port"]


class Network:
    """Pipelines of every switch wired by a fabric; ``down``: links (pairs of node names) that are down."""

    def __init__(
        self,
        fabric: Wiring,
        state: NetworkState,
        down: Iterable[Iterable[str]] = (),
        transit_vnfs: bool = True,
    ):
        self.fabric = fabric
        self.transit_vnfs = transit_vnfs
        self.state = state
        self.down = frozenset(frozenset(pair) for pair in down)
        self.dead_ports: set[Endpoint] = set()
        for (a, ap), (b, bp), _ in fabric.links:
            if frozenset((a, b)) in self.down:
                self.dead_ports.add((a, ap))
                self.dead_ports.add((b, bp))
        self.pipelines: dict[str, SwitchPipeline] = {}
        for name in fabric.switches:
            sw_state = state.switches.get(name) or SwitchState(name)
            self.pipelines[name] = SwitchPipeline(sw_state, ports=fabric.switch_ports(name))
        self.live = {
            name: frozenset(p for p in fabric.switch_ports(name) if (name, p) not in self.dead_ports)
            for name in fabric.switches
        }

    def inject(self, host: str, space: Space) -> Tree:
        """The propagation tree of ``space`` sent by ``host``."""
        if host not in self.fabric.attachment:
            raise SpecError(f"host {host!r} is not attached to any switch")
        switch, port = self.fabric.attachment[host]
        if (switch, port) in self.dead_ports:
            return Lost(space, f"{host}'s link is down", ())
        self._visits = 0
        return self._walk(switch, port, space, (), frozenset())

    def _walk(self, switch: str, in_port: int, space: Space, hops: Hops, seen: frozenset[Any]) -> Tree:
        key = (switch, in_port, space.current, space.excluded)
        if key in seen or len(hops) >= MAX_HOPS:
            return Looped(space, (*hops, Hop(switch, in_port, ())))
        self._visits += 1
        if self._visits > MAX_VISITS:
            return Looped(
                space,
                (*hops, Hop(switch, in_port, ())),
                f"still forwarded after {MAX_VISITS} switch visits (broadcast storm?)",
            )
        seen = seen | {key}
        tree = self.pipelines[switch].run(space, in_port, self.live[switch])
        return self._convert(tree, switch, in_port, hops, seen, space)

    def _convert(
        self, node: Node | None, switch: str, in_port: int, hops: Hops, seen: frozenset[Any], space: Space
    ) -> Tree:
        if node is None:
            return Dropped(space, f"{switch}: no action", (*hops, Hop(switch, in_port, ())), not hops)
        if isinstance(node, Fork):
            return Fork(
                node.kind, [self._convert(c, switch, in_port, hops, seen, space) for c in node.children]
            )
        if isinstance(node, Emit):
            hop = Hop(switch, in_port, node.steps, node.port)
            if (switch, node.port) in self.dead_ports:
                return Lost(node.space, f"{switch} port {node.port}: link down", (*hops, hop))
            peer = self.fabric.wiring.get((switch, node.port))
            if peer is None:
                return Lost(node.space, f"{switch} port {node.port} leads nowhere", (*hops, hop))
            peer_node, peer_port = peer
            if peer_node in self.fabric.hosts:
                if self.fabric.hosts[peer_node].kind == "vnf" and self.transit_vnfs:
                    onward = self.fabric.transit_port(peer_node, peer_port)
                    if onward is not None:  # a bump in the wire: the VNF forwards the packet
                        out_interface, (next_switch, next_port) = onward
                        vnf_hop = Hop(peer_node, peer_port, (), out_interface)
                        return self._walk(next_switch, next_port, node.space, (*hops, hop, vnf_hop), seen)
                return Delivered(peer_node, node.space, (*hops, hop))
            return self._walk(peer_node, peer_port, node.space, (*hops, hop), seen)
        if isinstance(node, Drop):
            return Dropped(
                node.space, f"{switch}: {node.reason}", (*hops, Hop(switch, in_port, node.steps)), not hops
            )
        if isinstance(node, ToController):
            return ToControllerLeaf(node.space, (*hops, Hop(switch, in_port, node.steps)))
        raise AssertionError(f"unknown pipeline node {node!r}")


Leaf = Delivered | Dropped | Lost | ToControllerLeaf | Looped
Tree = Leaf | Fork | None  # a propagation tree: leaves, forks of trees, or nothing


def leaves(tree: Tree) -> Iterator[Leaf]:
    """Every leaf of a propagation tree."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Fork):
            stack.extend(reversed(node.children))
        elif node is not None:
            yield node


def failing(tree: Tree, ok: Callable[[Leaf], bool]) -> list[Space]:
    """Original packets no copy of which reaches a leaf satisfying ``ok`` (any bucket may be picked)."""
    if isinstance(tree, Fork):
        if tree.kind in ("split", "choice"):
            out = []
            for child in tree.children:
                out.extend(failing(child, ok))
            return out
        result = None
        for child in tree.children:
            child_fail = failing(child, ok)
            if result is None:
                result = child_fail
            else:
                result = [x for a in result for b in child_fail if (x := a.intersect_original(b)) is not None]
            if not result:
                return []
        return result or []
    if tree is None:
        return []
    return [] if ok(tree) else [tree.space]


def switches_on(leaf: Leaf, fabric: Wiring) -> list[str]:
    """Switches a leaf's packets crossed, in order (VNF hops left out)."""
    return [hop.switch for hop in leaf.hops if hop.switch in fabric.switches]
