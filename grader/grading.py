"""Judging behaviours on flow state: ``grade(topology, state, behaviours) -> GradeReport``.

Each behaviour is checked symbolically for its whole traffic class: the class sent by each
source host is pushed through the network as a header space, and the verdict is read off the
propagation tree (delivered / dropped / lost / looped parts). A failure is made concrete: a
witness packet from the failing part is traced again hop by hop and the rule to blame is named.
"""

from __future__ import annotations

import functools
import ipaddress
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from sdnlab.grader.behaviours import Verdict, kind_named
from sdnlab.grader.errors import SpecError
from sdnlab.grader.fields import ALL_BITS, FIELDS
from sdnlab.grader.headerspace import Space
from sdnlab.grader.model import NetworkState, SwitchState
from sdnlab.grader.network import (
    Delivered,
    Dropped,
    Leaf,
    Looped,
    Lost,
    Network,
    Tree,
    Wiring,
    failing,
    leaves,
)
from sdnlab.grader.report import BehaviourResult, Failure, GradeReport
from sdnlab.grader.spec import Behaviour, TrafficClass, raise_spec_errors
from sdnlab.grader.trace import header_fields

MAX_FAILURES_SHOWN = 3
Triple = tuple[str, int, int]  # (field, value, mask)
TreeKey = tuple[str, str | None, TrafficClass, frozenset[frozenset[str]]]
Down = tuple[tuple[str, str], ...]  # links (node pairs) that are down in the judged scenario
ExtraOk = Callable[
    [Delivered, str, str], bool
]  # (leaf, src, dst): a delivery that also meets the kind's rule
BROADCAST = 0xFFFFFFFFFFFF


@functools.lru_cache(maxsize=65536)
def _mac(text: str) -> int:
    return int(text.replace(":", ""), 16)


@functools.lru_cache(maxsize=65536)
def _ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def _put(triples: list[Triple], name: str, value: int, mask: int | None = None) -> None:
    triples.append((name, value, FIELDS[name].full if mask is None else mask))


def _cube(triples: Iterable[Triple]) -> tuple[int, int] | None:
    value = mask = 0
    for name, v, m in triples:
        f = FIELDS[name]
        fv, fm = f.put(v & m), f.put(m)
        if (value ^ fv) & mask & fm:
            return None
        value |= fv
        mask |= fm
    return value, mask


def packet_string(vector: int) -> str:
    """A concrete header as an ovs flow string (the counterexample packet)."""
    fields = header_fields(vector)
    eth_type = int(fields.pop("dl_type"), 16)
    proto = fields.get("nw_proto")
    prefix = {0x0806: "arp"}.get(eth_type)
    if eth_type == 0x0800:
        prefix = {1: "icmp", 6: "tcp", 17: "udp"}.get(proto, "ip") if isinstance(proto, int) else "ip"
        if prefix != "ip":
            fields.pop("nw_proto", None)
    if prefix is None:
        prefix = f"dl_type=0x{eth_type:04x}"
    if prefix in ("tcp", "udp"):
        fields[f"{prefix}_src"] = fields.pop("tp_src")
        fields[f"{prefix}_dst"] = fields.pop("tp_dst")
    return ",".join([prefix] + [f"{k}={v}" for k, v in fields.items()])


class Grader:
    """Caches propagation trees per (scenario, source, class) while judging behaviours."""

    def __init__(self, topology: Any, state: NetworkState):
        self.topology = topology
        self.fabric = topology if isinstance(topology, Wiring) else Wiring.from_topology(topology)
        self.state = state
        self._networks: dict[frozenset[frozenset[str]], Network] = {}
        self._trees: dict[TreeKey, list[tuple[Tree, int]]] = {}
        self._visited: dict[TreeKey, set[str]] = {}  # tree key -> switches its packets crossed

    # ---- selectors and classes --------------------------------------------------------------
    def resolve(self, selectors: Iterable[str], where: str, key: str, hosts_only: bool = True) -> list[str]:
        """Node names a behaviour's selectors select (``SpecError`` for names that select nothing)."""
        names: list[str] = []
        fabric = self.fabric
        for sel in selectors:
            if sel == "all":
                found = list(fabric.hosts)
            elif sel.startswith("role:"):
                role = sel[5:]
                found = [
                    n
                    for n, roles in fabric.roles.items()
                    if role in roles and (n in fabric.hosts or not hosts_only)
                ]
            elif sel.startswith("kind:"):
                kind = sel[5:]
                found = (
                    list(fabric.switches)
                    if kind == "switch"
                    else [h.name for h in fabric.hosts.values() if h.kind == kind]
                )
            elif sel in fabric.hosts or (not hosts_only and sel in fabric.switches):
                found = [sel]
            else:
                try:
                    ipaddress.IPv4Address(sel)
                    found = [sel]
                except ValueError:
                    raise SpecError(f"{where}: {key}: unknown node {sel!r}") from None
            if not found:
                raise SpecError(f"{where}: {key}: {sel!r} selects no node")
            names.extend(found)
        return list(dict.fromkeys(names))

    def class_space(
        self, src: str, dst: str | None, proto: str, ports: Mapping[str, int | None], traffic: TrafficClass
    ) -> tuple[Space | None, int]:
        """(Space, prefer vector) for packets of one protocol variant from src to dst (None: any dst)."""
        s = self.fabric.hosts[src]
        triples: list[Triple] = []
        if s.mac:
            _put(triples, "eth_src", _mac(s.mac))
        _put(triples, "vlan_vid", 0)
        _put(triples, "vlan_pcp", 0)
        _put(triples, "nw_frag", 0)
        d = self.fabric.hosts.get(dst) if dst else None
        dst_ip = d.ip if d else (dst if dst else None)
        prefer: list[Triple] = []
        if proto in ("arp", "arp_reply"):
            reply = proto == "arp_reply"
            _put(triples, "eth_type", 0x0806)
            _put(triples, "ip_proto", 2 if reply else 1)  # the ARP opcode
            if reply and d is not None and d.mac:
                _put(triples, "eth_dst", _mac(d.mac))
                _put(triples, "arp_tha", _mac(d.mac))
            elif dst is not None:
                _put(triples, "eth_dst", BROADCAST)
            if s.ip:
                _put(triples, "ipv4_src", _ip(s.ip))
            if dst_ip:
                _put(triples, "ipv4_dst", _ip(dst_ip))
            if s.mac:
                _put(triples, "arp_sha", _mac(s.mac))
            if not reply:
                _put(triples, "arp_tha", 0)
        else:
            _put(triples, "eth_type", 0x0800)
            _put(triples, "ip_ttl", 64)
            if s.ip:
                _put(triples, "ipv4_src", _ip(s.ip))
            if dst_ip:
                _put(triples, "ipv4_dst", _ip(dst_ip))
            if d is not None and d.mac:
                _put(triples, "eth_dst", _mac(d.mac))
            if proto in ("icmp", "icmp_reply"):
                _put(triples, "ip_proto", 1)
                _put(triples, "tp_src", 0 if proto == "icmp_reply" else 8)  # ICMP type: echo reply / request
                _put(triples, "tp_dst", 0)
            elif proto in ("tcp", "udp"):
                _put(triples, "ip_proto", 6 if proto == "tcp" else 17)
                for which in ("src", "dst"):
                    port = ports.get(which)
                    if port is not None:
                        _put(triples, f"tp_{which}", port)
                prefer += [("tp_src", 49152, 0xFFFF)]
            else:
                prefer += [("ip_proto", 1, 0xFF), ("tp_src", 8, 0xFFFF)]
        triples.extend(traffic.extra)
        cube = _cube(triples)
        if cube is None:
            return None, 0
        if dst is None or d is None:
            prefer += [("eth_dst", _mac(d.mac) if d and d.mac else 0x020000000001, FIELDS["eth_dst"].full)]
        pv = _cube(prefer) or (0, 0)
        return Space.of(*cube), pv[0]

    # ---- propagation ----------------------------------------------------------------------
    def network(self, down: Iterable[Iterable[str]] = ()) -> Network:
        """The propagation network with links ``down`` (cached per scenario)."""
        key = frozenset(frozenset(p) for p in down)
        if key not in self._networks:
            self._networks[key] = Network(self.fabric, self.state, down)
        return self._networks[key]

    def trees(
        self, src: str, dst: str | None, traffic: TrafficClass, down: Iterable[Iterable[str]] = ()
    ) -> list[tuple[Tree, int]]:
        """[(tree, prefer)] for each protocol variant of the class from src (to dst, or any dst)."""
        key = (src, dst, traffic, frozenset(frozenset(p) for p in down))
        cached = self._trees.get(key)
        if cached is None:
            cached = []
            net = self.network(down)
            for proto, ports in traffic.variants():
                space, prefer = self.class_space(src, dst, proto, ports, traffic)
                if space is not None:
                    cached.append((net.inject(src, space), prefer))
            self._trees[key] = cached
            self._visited[key] = {
                hop.switch for tree, _ in cached for leaf in leaves(tree) for hop in leaf.hops
            }
        return cached

    def update_switch(self, switch: str, sw_state: SwitchState) -> int:
        """Replace one switch's flow state (a rule added/removed); returns how many cached trees were dropped.

        Only the propagation trees that visited the switch are recomputed by the next ``judge``.
        """
        from sdnlab.grader.pipeline import SwitchPipeline

        self.state = NetworkState({**self.state.switches, switch: sw_state})
        for net in self._networks.values():
            net.state = self.state
            net.pipelines[switch] = SwitchPipeline(sw_state, ports=self.fabric.switch_ports(switch))
        stale = [key for key, visited in self._visited.items() if switch in visited]
        for key in stale:
            del self._trees[key]
            del self._visited[key]
        return len(stale)

    # ---- counterexamples ------------------------------------------------------------------
    def prefer_towards(self, dst: str, space: Space, prefer: int) -> int:
        """Prefer witnesses addressed to ``dst`` (readable counterexamples for isolation)."""
        host = self.fabric.hosts.get(dst)
        if host is None or not host.ip:
            return prefer
        eth_type = FIELDS["eth_type"].get(space.value) if space.mask & FIELDS["eth_type"].mask else 0x0800
        mac = BROADCAST if eth_type == 0x0806 else (_mac(host.mac) if host.mac else 0)
        for name, value in (("eth_dst", mac), ("ipv4_dst", _ip(host.ip))):
            f = FIELDS[name]
            prefer = (prefer & ~f.mask) | f.put(value)
        return prefer

    def explain(
        self,
        src: str,
        dst: str,
        space: Space,
        prefer: int,
        message: str,
        down: Iterable[Iterable[str]] = (),
        pick: Callable[[Leaf], bool] | None = None,
    ) -> Failure:
        """Make a failing space concrete: witness packet, hop-by-hop trace, blamed rule."""
        vector = space.pick(prefer)
        if vector is None or vector is ...:
            vector = (space.value & space.mask) | (prefer & ~space.mask & ALL_BITS)
        concrete = Space(vector, ALL_BITS)
        tree = self.network(down).inject(src, concrete)
        all_leaves = list(leaves(tree))
        chosen = [leaf for leaf in all_leaves if pick is None or pick(leaf)] or all_leaves
        leaf = chosen[0]
        trace = tuple(
            {
                "switch": hop.switch,
                "in_port": hop.in_port,
                "out_port": hop.out_port,
                "rules": [step.to_dict() for step in hop.steps],
            }
            for hop in leaf.hops
        )
        return Failure(
            str(src), str(dst), message, packet_string(vector), trace, _outcome(all_leaves), _blame(leaf)
        )

    # ---- judging --------------------------------------------------------------------------
    def judge(self, b: Behaviour, down: Down = ()) -> BehaviourResult:
        """Judge one behaviour with its kind's judge (see ``sdnlab.grader.behaviours``)."""
        kind = kind_named(b.kind)
        verdict = kind.judge(self, b, down)
        return BehaviourResult(
            b.id,
            b.kind,
            b.description or kind.describe(b),
            b.weight,
            b.hidden,
            verdict.cases,
            verdict.passed,
            tuple(verdict.failures[:MAX_FAILURES_SHOWN]),
            verdict.note,
        )

    def pairs(self, b: Behaviour) -> list[tuple[str, str]]:
        """Every (src, dst) case of a behaviour, src and dst resolved and different."""
        srcs = self.resolve(b.src, b.where, f"{b.kind}.src")
        dsts = self.resolve(b.dst, b.where, f"{b.kind}.dst")
        return [(s, d) for s in srcs for d in dsts if s != d]

    def reach_failure(
        self,
        src: str,
        dst: str,
        traffic: TrafficClass,
        down: Down,
        label: str = "not delivered",
        extra_ok: ExtraOk | None = None,
    ) -> Failure | None:
        """The explained failure of "every packet of ``traffic`` from src is delivered to dst", or None."""
        host_dst = dst in self.fabric.hosts

        def ok(leaf: Leaf) -> bool:
            if not isinstance(leaf, Delivered):
                return False
            if host_dst and leaf.host != dst:
                return False
            if not host_dst and leaf.host == src:
                return False
            return extra_ok(leaf, src, dst) if extra_ok else True

        for tree, prefer in self.trees(src, dst, traffic, down):
            for space in failing(tree, ok):
                if space.is_concrete or space.pick() is not None:
                    return self.explain(src, dst, space, prefer, label, down, pick=lambda leaf: not ok(leaf))
        return None

    def reach_cases(
        self, b: Behaviour, down: Down, extra_ok: ExtraOk | None = None, label: str = "not delivered"
    ) -> Verdict:
        """Reach-like verdict: a (src, dst) case holds when all the class is delivered (and ``extra_ok``)."""
        cases = passed = 0
        failures: list[Failure] = []
        assert b.traffic is not None
        for src, dst in self.pairs(b):
            cases += 1
            failure = self.reach_failure(src, dst, b.traffic, down, label, extra_ok)
            if failure is None:
                passed += 1
            elif len(failures) < MAX_FAILURES_SHOWN:
                failures.append(failure)
        return Verdict(cases, passed, tuple(failures))


def _outcome(all_leaves: Iterable[Leaf]) -> str:
    parts = []
    for leaf in all_leaves:
        if isinstance(leaf, Delivered):
            parts.append(f"delivered to {leaf.host}")
        elif isinstance(leaf, Dropped):
            parts.append(f"dropped ({leaf.reason})")
        elif isinstance(leaf, Lost):
            parts.append(f"lost ({leaf.reason})")
        elif isinstance(leaf, Looped):
            parts.append("loops forever" if leaf.reason == "forwarding loop" else leaf.reason)
        else:
            parts.append("sent to the controller")
    return "; ".join(dict.fromkeys(parts))


def _blame(leaf: Leaf) -> dict[str, Any] | None:
    """The rule responsible for a leaf's fate: the last rule applied on its path."""
    for hop in reversed(leaf.hops):
        for step in reversed(hop.steps):
            if step.flow is not None:
                data = step.to_dict()
                if isinstance(leaf, Dropped) and "miss" in leaf.reason and step is not hop.steps[-1]:
                    break
                return data
        if hop.steps:
            last = hop.steps[-1]
            return {
                "switch": hop.switch,
                "table": last.table_id,
                "priority": None,
                "reason": last.note or "no rule matched",
            }
    if isinstance(leaf, (Dropped, Looped, Lost)) and leaf.hops:
        return {
            "switch": leaf.hops[-1].switch,
            "table": 0,
            "priority": None,
            "reason": getattr(leaf, "reason", "loop"),
        }
    return None


def check_spec(grader: Grader, behaviours: Iterable[Behaviour]) -> None:
    """Resolve every selector of every behaviour against the topology; raise all problems at once."""
    raise_spec_errors(spec_errors(grader, behaviours))


def spec_errors(grader: Grader, behaviours: Iterable[Behaviour]) -> list[str]:
    """Every selector that names no node and every failover link the topology lacks, located."""
    errors: list[str] = []
    for b in behaviours:
        errors += kind_named(b.kind).check(grader, b)
    return errors


def apply_requires(
    results: tuple[BehaviourResult, ...], behaviours: Iterable[Behaviour]
) -> tuple[BehaviourResult, ...]:
    """Results where a behaviour whose ``requires`` did not all pass earns nothing (and says why).

    An isolation check holds on a network that forwards nothing; tied with ``requires`` to the
    reachability it protects, it earns its points only when that reachability holds too.
    """
    by_id = {r.id: r for r in results}
    needs = {b.id: b.requires for b in behaviours}
    out = []
    for r in results:
        missing = [i for i in needs.get(r.id, ()) if i in by_id and not by_id[i].passed]
        if missing and r.passed_cases:
            r = replace(
                r,
                passed_cases=0,
                note="; ".join(
                    filter(
                        None,
                        [r.note, f"earns its points only together with {', '.join(missing)}, which failed"],
                    )
                ),
            )
        out.append(r)
    return tuple(out)


def grade(
    topology: Any,
    state: NetworkState,
    behaviours: Iterable[Behaviour],
    *,
    include_hidden: bool = True,
    down: Iterable[Iterable[str]] = (),
) -> GradeReport:
    """Judge every behaviour on the flow state; partial credit per behaviour.

    ``down`` lists links (pairs of node names) that are down: every behaviour is judged in that
    failure scenario (a failover behaviour with its own links down on top of them).
    """
    started = time.perf_counter()
    grader = Grader(topology, state)
    links: Down = tuple((str(a), str(z)) for a, z in down)
    missing = [
        f"down: no link {a}-{z} in the topology" for a, z in links if grader.fabric.link_between(a, z) is None
    ]
    raise_spec_errors(missing)
    selected = [b for b in behaviours if include_hidden or not b.hidden]
    check_spec(grader, selected)
    results = apply_requires(tuple(grader.judge(b, down=links) for b in selected), selected)
    return GradeReport(results, time.perf_counter() - started, down=links)
