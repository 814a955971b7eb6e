"""Judging behaviours on flow state: ``grade(topology, state, behaviours) -> GradeReport``.

Each behaviour is checked symbolically for its whole traffic class: the class sent by each
source host is pushed through the network as a header space, and the verdict is read off the
propagation tree (delivered / dropped / lost / looped parts). A failure is made concrete: a
witness packet from the failing part is traced again hop by hop and the rule to blame is named.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import time

import networkx as nx

from sdnlab.grader.errors import SpecError
from sdnlab.grader.fields import ALL_BITS, FIELDS
from sdnlab.grader.headerspace import Space
from sdnlab.grader.model import NetworkState
from sdnlab.grader.network import (
    Delivered,
    Dropped,
    Fabric,
    Looped,
    Lost,
    Network,
    failing,
    leaves,
    switches_on,
)
from sdnlab.grader.report import BehaviourResult, Failure, GradeReport
from sdnlab.grader.spec import Behaviour, TrafficClass, raise_spec_errors
from sdnlab.grader.trace import header_fields

MAX_FAILURES_SHOWN = 3
BROADCAST = 0xFFFFFFFFFFFF


@functools.lru_cache(maxsize=65536)
def _mac(text: str) -> int:
    return int(text.replace(":", ""), 16)


@functools.lru_cache(maxsize=65536)
def _ip(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def _put(triples: list, name: str, value: int, mask: int | None = None) -> None:
    triples.append((name, value, FIELDS[name].full if mask is None else mask))


def _cube(triples) -> tuple[int, int] | None:
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
        prefix = {1: "icmp", 6: "tcp", 17: "udp"}.get(proto, "ip")
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

    def __init__(self, topology, state: NetworkState):
        self.topology = topology
        self.fabric = topology if isinstance(topology, Fabric) else Fabric.from_topology(topology)
        self.state = state
        self._networks: dict = {}
        self._trees: dict = {}
        self._visited: dict = {}  # tree key -> switches its packets crossed

    # ---- selectors and classes --------------------------------------------------------------
    def resolve(self, selectors, where: str, key: str, hosts_only=True) -> list[str]:
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

    def class_space(self, src: str, dst: str | None, proto: str, ports: dict, traffic: TrafficClass):
        """(Space, prefer vector) for packets of one protocol variant from src to dst (None: any dst)."""
        s = self.fabric.hosts[src]
        triples: list = []
        if s.mac:
            _put(triples, "eth_src", _mac(s.mac))
        _put(triples, "vlan_vid", 0)
        _put(triples, "vlan_pcp", 0)
        _put(triples, "nw_frag", 0)
        d = self.fabric.hosts.get(dst) if dst else None
        dst_ip = d.ip if d else (dst if dst else None)
        prefer: list = []
        if proto == "arp":
            _put(triples, "eth_type", 0x0806)
            _put(triples, "ip_proto", 1)
            if dst is not None:
                _put(triples, "eth_dst", BROADCAST)
            if s.ip:
                _put(triples, "ipv4_src", _ip(s.ip))
            if dst_ip:
                _put(triples, "ipv4_dst", _ip(dst_ip))
            if s.mac:
                _put(triples, "arp_sha", _mac(s.mac))
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
            if proto == "icmp":
                _put(triples, "ip_proto", 1)
                _put(triples, "tp_src", 8)
                _put(triples, "tp_dst", 0)
            elif proto in ("tcp", "udp"):
                _put(triples, "ip_proto", 6 if proto == "tcp" else 17)
                if ports.get("src") is not None:
                    _put(triples, "tp_src", ports["src"])
                if ports.get("dst") is not None:
                    _put(triples, "tp_dst", ports["dst"])
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
    def network(self, down=()) -> Network:
        key = frozenset(frozenset(p) for p in down)
        if key not in self._networks:
            self._networks[key] = Network(self.fabric, self.state, down)
        return self._networks[key]

    def trees(self, src: str, dst: str | None, traffic: TrafficClass, down=()):
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

    def update_switch(self, switch: str, sw_state) -> int:
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
    def _prefer_towards(self, dst: str, space: Space, prefer: int) -> int:
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

    def explain(self, src, dst, space: Space, prefer: int, message: str, down=(), pick=None) -> Failure:
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
    def judge(self, b: Behaviour, down=()) -> BehaviourResult:
        kind = b.kind
        if kind == "failover":
            inner = b.nested
            for a, z in b.down:
                if self.fabric.link_between(a, z) is None:
                    raise SpecError(f"{b.where}: failover.down: no link {a}-{z}")
            result = self.judge(inner, down=tuple(dict.fromkeys(tuple(down) + tuple(b.down))))
            return BehaviourResult(
                b.id,
                kind,
                b.description or f"with {', '.join('-'.join(p) for p in b.down)} down: {_describe(inner)}",
                b.weight,
                b.hidden,
                result.cases,
                result.passed_cases,
                result.failures,
                result.note,
            )
        method = getattr(self, f"_judge_{kind}")
        cases, passed, failures, note = method(b, down)
        return BehaviourResult(
            b.id,
            kind,
            b.description or _describe(b),
            b.weight,
            b.hidden,
            cases,
            passed,
            tuple(failures[:MAX_FAILURES_SHOWN]),
            note,
        )

    def _pairs(self, b: Behaviour):
        srcs = self.resolve(b.src, b.where, f"{b.kind}.src")
        dsts = self.resolve(b.dst, b.where, f"{b.kind}.dst")
        return [(s, d) for s in srcs for d in dsts if s != d]

    def _reach_like(self, b: Behaviour, down, extra_ok=None, label="not delivered"):
        cases = passed = 0
        failures = []
        for src, dst in self._pairs(b):
            cases += 1
            host_dst = dst in self.fabric.hosts

            def ok(leaf, dst=dst, host_dst=host_dst, src=src):
                if not isinstance(leaf, Delivered):
                    return False
                if host_dst and leaf.host != dst:
                    return False
                if not host_dst and leaf.host == src:
                    return False
                return extra_ok(leaf, src, dst) if extra_ok else True

            bad = None
            for tree, prefer in self.trees(src, dst, b.traffic, down):
                fails = failing(tree, ok)
                for space in fails:
                    if space.is_concrete or space.pick() is not None:
                        bad = (space, prefer)
                        break
                if bad:
                    break
            if bad is None:
                passed += 1
            elif len(failures) < MAX_FAILURES_SHOWN:
                failures.append(
                    self.explain(src, dst, bad[0], bad[1], label, down, pick=lambda leaf, ok=ok: not ok(leaf))
                )
        return cases, passed, failures, ""

    def _judge_reach(self, b, down):
        return self._reach_like(b, down)

    def _judge_waypoint(self, b, down):
        via = set(self.resolve(b.via, b.where, "waypoint.via", hosts_only=False))

        def through(leaf, src, dst):
            nodes = {hop.switch for hop in leaf.hops}
            return bool(nodes & via)

        return self._reach_like(b, down, through, f"not delivered through {', '.join(sorted(via))}")

    def _judge_path(self, b, down):
        avoid = set(self.resolve(b.avoid, b.where, "path.avoid", hosts_only=False)) if b.avoid else set()

        def good(leaf, src, dst):
            switches = switches_on(leaf, self.fabric)
            if b.max_hops is not None and len(switches) > b.max_hops:
                return False
            if avoid & set(switches):
                return False
            if b.prefer == "lowest_latency":
                return (
                    self._latency([src] + [hop.switch for hop in leaf.hops] + [dst])
                    <= self._best_latency(src, dst, down) + 1e-9
                )
            return True

        parts = []
        if b.max_hops is not None:
            parts.append(f"at most {b.max_hops} switches")
        if avoid:
            parts.append(f"avoiding {', '.join(sorted(avoid))}")
        if b.prefer:
            parts.append("on a lowest-latency path")
        return self._reach_like(
            b, down, good, "not delivered " + " and ".join(parts) if parts else "not delivered"
        )

    def _judge_isolate(self, b, down):
        cases = passed = 0
        failures = []
        dst_set = set(self.resolve(b.dst, b.where, "isolate.dst"))
        for src in self.resolve(b.src, b.where, "isolate.src"):
            reached: dict = {}
            for tree, prefer in self.trees(src, None, b.traffic, down):
                for leaf in leaves(tree):
                    if isinstance(leaf, Delivered) and leaf.host in dst_set and leaf.host != src:
                        if leaf.space.is_concrete or leaf.space.pick() is not None:
                            reached.setdefault(leaf.host, (leaf.space, prefer))
            total = len(dst_set) - (src in dst_set)
            cases += total
            passed += total - len(reached)
            for dst, (space, prefer) in reached.items():
                if len(failures) >= MAX_FAILURES_SHOWN:
                    break
                prefer = self._prefer_towards(dst, space, prefer)
                failures.append(
                    self.explain(
                        src,
                        dst,
                        space,
                        prefer,
                        "delivered but must be isolated",
                        down,
                        pick=lambda leaf, d=dst: isinstance(leaf, Delivered) and leaf.host == d,
                    )
                )
        return cases, passed, failures, ""

    def _judge_no_loop(self, b, down):
        cases = passed = 0
        failures = []
        for src in self.resolve(b.src, b.where, "no_loop.src"):
            cases += 1
            bad = None
            for tree, prefer in self.trees(src, None, b.traffic, down):
                bad = next(((leaf.space, prefer) for leaf in leaves(tree) if isinstance(leaf, Looped)), None)
                if bad:
                    break
            if bad is None:
                passed += 1
            elif len(failures) < MAX_FAILURES_SHOWN:
                failures.append(
                    self.explain(
                        src,
                        "*",
                        bad[0],
                        bad[1],
                        "forwarding loop",
                        down,
                        pick=lambda leaf: isinstance(leaf, Looped),
                    )
                )
        return cases, passed, failures, ""

    def _judge_no_blackhole(self, b, down):
        cases = passed = 0
        failures = []

        def hole(leaf):
            return isinstance(leaf, Lost) or (isinstance(leaf, Dropped) and not leaf.at_ingress)

        for src, dst in self._pairs(b):
            cases += 1
            bad = None
            for tree, prefer in self.trees(src, dst, b.traffic, down):
                bad = next(
                    (
                        (leaf.space, prefer)
                        for leaf in leaves(tree)
                        if hole(leaf) and (leaf.space.is_concrete or leaf.space.pick() is not None)
                    ),
                    None,
                )
                if bad:
                    break
            if bad is None:
                passed += 1
            elif len(failures) < MAX_FAILURES_SHOWN:
                failures.append(
                    self.explain(
                        src, dst, bad[0], bad[1], "black hole: dropped inside the network", down, pick=hole
                    )
                )
        return cases, passed, failures, ""

    def _judge_load_split(self, b, down):
        over = self.resolve(b.over, b.where, "load_split.over", hosts_only=False)
        cases = passed = 0
        failures = []
        for src, dst in self._pairs(b):
            reached: set = set()
            for tree, _ in self.trees(src, dst, b.traffic, down):
                for leaf in leaves(tree):
                    if isinstance(leaf, Delivered) and (
                        leaf.space.is_concrete or leaf.space.pick() is not None
                    ):
                        reached.add(leaf.host)
                        reached.update(hop.switch for hop in leaf.hops)
            for target in over:
                cases += 1
                if target in reached:
                    passed += 1
                elif len(failures) < MAX_FAILURES_SHOWN:
                    failures.append(
                        Failure(
                            src,
                            dst,
                            f"no part of the class reaches {target} (reached: {', '.join(sorted(h for h in reached if h in over)) or 'none of them'})",
                        )
                    )
        return cases, passed, failures, ""

    # ---- latency --------------------------------------------------------------------------
    def _graph_for(self, down):
        graph = nx.Graph()
        dead = {frozenset(p) for p in down}
        for (a, _), (z, _), delay in self.fabric.links:
            if frozenset((a, z)) in dead:
                continue
            if graph.has_edge(a, z):
                delay = min(delay, graph[a][z]["delay"])
            graph.add_edge(a, z, delay=delay)
        return graph

    def _latency(self, nodes) -> float:
        total = 0.0
        for a, z in itertools.pairwise(nodes):
            delays = [d for (x, _), (y, _), d in self.fabric.links if {x, y} == {a, z}]
            total += min(delays) if delays else float("inf")
        return total

    def _best_latency(self, src, dst, down) -> float:
        graph = self._graph_for(down)
        hosts = set(self.fabric.hosts) - {src, dst}
        graph.remove_nodes_from([h for h in hosts if h in graph])  # paths go through switches only
        try:
            return nx.shortest_path_length(graph, src, dst, weight="delay")
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            return float("inf")


def _outcome(all_leaves) -> str:
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


def _blame(leaf) -> dict | None:
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


def _describe(b: Behaviour) -> str:
    traffic = b.traffic.text if b.traffic else "any"
    src, dst = ",".join(b.src), ",".join(b.dst)
    return {
        "reach": f"{traffic} from {src} reaches {dst}",
        "isolate": f"{traffic} from {src} never reaches {dst}",
        "waypoint": f"{traffic} from {src} reaches {dst} through {','.join(b.via)}",
        "path": f"{traffic} from {src} reaches {dst} on a constrained path",
        "no_loop": f"no forwarding loop for {traffic} from {src}",
        "no_blackhole": f"no black hole for {traffic} from {src} to {dst}",
        "load_split": f"{traffic} from {src} to {dst} is spread over {','.join(b.over)}",
    }.get(b.kind, b.kind)


def check_spec(grader: Grader, behaviours) -> None:
    """Resolve every selector of every behaviour against the topology; raise all problems at once."""
    raise_spec_errors(spec_errors(grader, behaviours))


def spec_errors(grader: Grader, behaviours) -> list[str]:
    """Every selector that names no node and every failover link the topology lacks, located."""
    errors = []
    for b in behaviours:
        targets = [b] + ([b.nested] if b.nested is not None else [])
        for item in targets:
            for key, selectors, hosts_only in (
                ("src", item.src, True),
                ("dst", item.dst, True),
                ("via", item.via, False),
                ("avoid", item.avoid, False),
                ("over", item.over, False),
            ):
                for sel in selectors:
                    try:
                        grader.resolve((sel,), b.where, f"{item.kind}.{key}", hosts_only=hosts_only)
                    except SpecError as exc:
                        errors.append(str(exc))
        for a, z in b.down:
            if grader.fabric.link_between(a, z) is None:
                errors.append(f"{b.where}: failover.down: no link {a}-{z}")
    return errors


def grade(topology, state: NetworkState, behaviours, *, include_hidden: bool = True, down=()) -> GradeReport:
    """Judge every behaviour on the flow state; partial credit per behaviour.

    ``down`` lists links (pairs of node names) that are down: every behaviour is judged in that
    failure scenario (a failover behaviour with its own links down on top of them).
    """
    started = time.perf_counter()
    grader = Grader(topology, state)
    down = tuple((str(a), str(z)) for a, z in down)
    missing = [
        f"down: no link {a}-{z} in the topology" for a, z in down if grader.fabric.link_between(a, z) is None
    ]
    raise_spec_errors(missing)
    selected = [b for b in behaviours if include_hidden or not b.hidden]
    check_spec(grader, selected)
    results = tuple(grader.judge(b, down=down) for b in selected)
    return GradeReport(results, time.perf_counter() - started, down=down)
