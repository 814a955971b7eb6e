"""``path``: the class from src reaches dst on a constrained path (``max_hops``, ``avoid``, ``prefer``)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import networkx as nx

from sdnlab.grader.behaviours.base import BehaviourKind, ParseNested, Verdict, register
from sdnlab.grader.network import switches_on

if TYPE_CHECKING:
    from sdnlab.grader.grading import Down, Grader
    from sdnlab.grader.network import Delivered, Wiring
    from sdnlab.grader.spec import Behaviour

PREFERENCES = ("lowest_latency",)


def _graph(fabric: Wiring, down: Down) -> nx.Graph:
    graph = nx.Graph()
    dead = {frozenset(p) for p in down}
    for (a, _), (z, _), delay in fabric.links:
        if frozenset((a, z)) in dead:
            continue
        if graph.has_edge(a, z):
            delay = min(delay, graph[a][z]["delay"])
        graph.add_edge(a, z, delay=delay)
    return graph


def latency(fabric: Wiring, nodes: list[str]) -> float:
    """Sum of the declared link delays (ms) along ``nodes``; inf where two are not linked."""
    total = 0.0
    for a, z in itertools.pairwise(nodes):
        delays = [d for (x, _), (y, _), d in fabric.links if {x, y} == {a, z}]
        total += min(delays) if delays else float("inf")
    return total


def best_latency(fabric: Wiring, src: str, dst: str, down: Down) -> float:
    """The lowest declared latency (ms) of any src-dst path through switches only."""
    graph = _graph(fabric, down)
    hosts = set(fabric.hosts) - {src, dst}
    graph.remove_nodes_from([h for h in hosts if h in graph])
    try:
        return float(nx.shortest_path_length(graph, src, dst, weight="delay"))
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return float("inf")


@register
class Path(BehaviourKind):
    name = "path"
    summary = (
        "the traffic class from src reaches dst within max_hops switches, avoiding nodes, "
        "on a lowest-latency path"
    )
    keys = frozenset({"src", "dst", "traffic", "max_hops", "avoid", "prefer"})
    required = frozenset({"src", "dst"})

    def parse_fields(
        self,
        body: Mapping[object, object],
        where: Callable[[str], str],
        errors: list[str],
        nested: ParseNested,
    ) -> dict[str, object]:
        fields: dict[str, object] = {}
        max_hops = body.get("max_hops")
        if "max_hops" in body:
            if not isinstance(max_hops, int) or isinstance(max_hops, bool) or max_hops < 1:
                errors.append(
                    f"{where('max_hops')}: path.max_hops: expected a positive integer, got {max_hops!r}"
                )
            else:
                fields["max_hops"] = max_hops
        if "prefer" in body:
            prefer = body.get("prefer")
            if prefer not in PREFERENCES:
                errors.append(f"{where('prefer')}: path.prefer: only 'lowest_latency' is supported")
            else:
                fields["prefer"] = prefer
        return fields

    def describe(self, b: Behaviour) -> str:
        traffic = b.traffic.text if b.traffic else "any"
        return f"{traffic} from {','.join(b.src)} reaches {','.join(b.dst)} on a constrained path"

    def judge(self, grader: Grader, b: Behaviour, down: Down) -> Verdict:
        fabric = grader.fabric
        avoid = set(grader.resolve(b.avoid, b.where, "path.avoid", hosts_only=False)) if b.avoid else set()

        def good(leaf: Delivered, src: str, dst: str) -> bool:
            switches = switches_on(leaf, fabric)
            if b.max_hops is not None and len(switches) > b.max_hops:
                return False
            if avoid & set(switches):
                return False
            if b.prefer == "lowest_latency":
                taken = latency(fabric, [src] + [hop.switch for hop in leaf.hops] + [dst])
                return taken <= best_latency(fabric, src, dst, down) + 1e-9
            return True

        parts = []
        if b.max_hops is not None:
            parts.append(f"at most {b.max_hops} switches")
        if avoid:
            parts.append(f"avoiding {', '.join(sorted(avoid))}")
        if b.prefer:
            parts.append("on a lowest-latency path")
        label = "not delivered " + " and ".join(parts) if parts else "not delivered"
        return grader.reach_cases(b, down, good, label)
