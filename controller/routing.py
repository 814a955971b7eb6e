"""Proactive shortest-path routing towards each known host, with optional protection.

``routes_to(graph, host, protection)`` gives, for every switch, the port towards ``host``
(a shortest-path tree rooted at the host's switch) and, with protection, a backup port: the
first hop of the best path that avoids the primary link. ``route_msgs`` turns one route into
flow-mods (and a fast-failover group): traffic for the host uses the group, and packets that
bounce back from the primary neighbour (``in_port`` = primary port) take the backup, so a
single link failure is repaired by the switches alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
from os_ken.ofproto import ofproto_v1_3 as ofp

from sdnlab.controller import ofmsg
from sdnlab.controller.network import Host
from sdnlab.controller.pipeline import COOKIE_BUILTIN, COOKIE_MASK, FORWARD, PRIORITY_BYPASS, PRIORITY_L2


@dataclass(frozen=True)
class Route:
    """How switch ``dpid`` forwards frames for ``mac``."""

    dpid: int
    mac: str
    out_port: int
    backup_port: int | None = None


class PathCache:
    """Shortest-path trees and backup ports of one graph, computed once per destination switch."""

    def __init__(self, graph: nx.Graph) -> None:
        self.graph = graph
        self._trees: dict[int, dict[int, list[int]]] = {}
        self._backups: dict[tuple[int, int, int], int | None] = {}

    def tree(self, target: int) -> dict[int, list[int]]:
        """Paths from ``target`` to every switch that can reach it."""
        if target not in self._trees:
            self._trees[target] = nx.single_source_dijkstra_path(self.graph, target, weight="w")
        return self._trees[target]

    def backup(self, dpid: int, neighbour: int, target: int) -> int | None:
        key = (dpid, neighbour, target)
        if key not in self._backups:
            self._backups[key] = backup_port(self.graph, dpid, neighbour, target)
        return self._backups[key]


def routes_to(
    graph: nx.Graph, host: Host, protection: bool = False, cache: PathCache | None = None
) -> list[Route]:
    """One route per switch that can reach ``host``'s switch in ``graph``."""
    if host.dpid not in graph:
        return []
    cache = cache if cache is not None and cache.graph is graph else PathCache(graph)
    paths = cache.tree(host.dpid)
    routes = []
    for dpid in sorted(paths):
        path = paths[dpid]
        if dpid == host.dpid:
            routes.append(Route(dpid, host.mac, host.port_no))
            continue
        neighbour = path[-2]
        out_port = graph[dpid][neighbour]["ports"][dpid]
        backup = cache.backup(dpid, neighbour, host.dpid) if protection else None
        routes.append(Route(dpid, host.mac, out_port, backup))
    return routes


def backup_port(graph: nx.Graph, dpid: int, neighbour: int, target: int) -> int | None:
    """First-hop port of the best path from ``dpid`` to ``target`` avoiding link dpid-neighbour."""
    pruned = graph.copy()
    pruned.remove_edge(dpid, neighbour)
    try:
        path = nx.dijkstra_path(pruned, dpid, target, weight="w")
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return None
    return pruned[dpid][path[1]]["ports"][dpid]


def path_between(graph: nx.Graph, src: Host, dst: Host) -> list[int]:
    """The switch path (dpids) a frame from ``src`` to ``dst`` follows."""
    return nx.dijkstra_path(graph, src.dpid, dst.dpid, weight="w")


def clear_host_msgs(mac: str) -> list:
    """Delete every forwarding flow for ``mac`` (main flow and bypasses)."""
    return [
        ofmsg.flow_delete(
            FORWARD.table_id, ofmsg.match(eth_dst=mac), cookie=COOKIE_BUILTIN, cookie_mask=COOKIE_MASK
        )
    ]


def route_msgs(route: Route, group_id: int, group_exists: bool, previous: Route | None = None) -> list:
    """Flow-mods (and a fast-failover group) that implement ``route`` on its switch.

    The main flow is replaced in place (same match and priority); a bypass flow left by the
    ``previous`` route of this switch is deleted when it would no longer be right.
    """
    msgs = []
    if (
        previous is not None
        and previous.backup_port is not None
        and (previous.out_port, previous.backup_port) != (route.out_port, route.backup_port)
    ):
        msgs.append(
            ofmsg.flow_delete(
                FORWARD.table_id,
                ofmsg.match(in_port=previous.out_port, eth_dst=route.mac),
                priority=PRIORITY_BYPASS,
            )
        )
    dst = ofmsg.match(eth_dst=route.mac)
    if route.backup_port is None:
        msgs.append(
            ofmsg.flow_add(
                FORWARD.table_id,
                PRIORITY_L2,
                dst,
                [ofmsg.apply_actions([ofmsg.output(route.out_port)])],
                cookie=COOKIE_BUILTIN,
            )
        )
        return msgs
    command = ofp.OFPGC_MODIFY if group_exists else ofp.OFPGC_ADD
    msgs.append(ofmsg.fast_failover_group(group_id, [route.out_port, route.backup_port], command=command))
    msgs.append(
        ofmsg.flow_add(
            FORWARD.table_id,
            PRIORITY_L2,
            dst,
            [ofmsg.apply_actions([ofmsg.group(group_id)])],
            cookie=COOKIE_BUILTIN,
        )
    )
    msgs.append(
        ofmsg.flow_add(
            FORWARD.table_id,
            PRIORITY_BYPASS,
            ofmsg.match(in_port=route.out_port, eth_dst=route.mac),
            [ofmsg.apply_actions([ofmsg.output(route.backup_port)])],
            cookie=COOKIE_BUILTIN,
        )
    )
    return msgs
