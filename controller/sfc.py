"""Service function chaining: steer classified flows through an ordered list of VNF hosts.

A chain's traffic is classified where it enters (the source hosts' switch ports), tagged with a
VLAN id naming (chain, direction, stage), carried by tag towards the next VNF's switch, untagged
and handed to the VNF. What the VNF emits on its other interface (or the same one, one-armed)
is classified again for the next stage; after the last VNF the packet goes to normal delivery
(table FORWARD). With ``symmetric`` the reverse 5-tuple runs through the VNFs in reverse order,
entering each by its ``eth1`` side. All flows live in table INGRESS at ``PRIORITY_STEER`` with
``COOKIE_SFC``; ``chain_msgs`` is pure: it needs the network state and the routing graph.
"""

from __future__ import annotations

import ipaddress

import networkx as nx

from sdnlab.controller import ofmsg
from sdnlab.controller.config import Chain
from sdnlab.controller.network import NetworkState
from sdnlab.controller.pipeline import FORWARD, INGRESS, PRIORITY_STEER

COOKIE_SFC = 0x5D1AB5F0_00000000
COOKIE_SFC_MASK = 0xFFFFFFFF_00000000
VLAN_BASE = 3000


def stage_vid(chain_index: int, reverse: bool, stage: int) -> int:
    """The VLAN id of ``stage`` (1-based) of a chain direction."""
    return VLAN_BASE + chain_index * 64 + (32 if reverse else 0) + stage


def _is_ip(spec: str | None) -> bool:
    return spec is not None and spec[0].isdigit()


def hosts_of(spec: str | None, state: NetworkState, vnf_names: set[str]) -> list[str]:
    """Declared non-VNF host names an endpoint spec selects (all of them for None or an IP/CIDR)."""
    names = [n for n in state.host_roles if n not in vnf_names]
    if spec is None or _is_ip(spec):
        if spec is None:
            return names
        network = ipaddress.ip_network(spec, strict=False)
        return [n for n in names if _host_ip(n, state) and ipaddress.ip_address(_host_ip(n, state)) in network]
    if spec.startswith("role:"):
        role = spec[len("role:"):]
        return [n for n in names if role in state.host_roles[n]]
    return [spec] if spec in state.host_roles else []


def _host_ip(name: str, state: NetworkState) -> str | None:
    for mac in state.host_macs.get(name, ()):
        host = state.hosts.get(mac)
        if host is not None and host.ip:
            return host.ip
    return None


def _attachments(name: str, state: NetworkState) -> list[tuple[int, int]]:
    """(dpid, port) of each interface of host ``name``, in interface order."""
    out = []
    for mac in state.host_macs.get(name, ()):
        host = state.hosts.get(mac)
        if host is not None:
            out.append((host.dpid, host.port_no))
    return out


def _l4_fields(chain: Chain, reverse: bool) -> dict:
    match = chain.match
    fields: dict = {"eth_type": ofmsg.ETH_TYPE_IP}
    if match.ip_proto is not None:
        fields["ip_proto"] = match.ip_proto
    src_port, dst_port = (match.dst_port, match.src_port) if reverse else (match.src_port, match.dst_port)
    prefix = {6: "tcp", 17: "udp"}.get(match.ip_proto)
    if prefix and src_port is not None:
        fields[f"{prefix}_src"] = src_port
    if prefix and dst_port is not None:
        fields[f"{prefix}_dst"] = dst_port
    return fields


def _ip_match(spec: str | None, state: NetworkState, vnf_names: set[str]) -> list[str | tuple | None]:
    """ipv4 match values for the far end of a flow: one per selected host, a CIDR, or None (any)."""
    if spec is None:
        return [None]
    if _is_ip(spec):
        network = ipaddress.ip_network(spec, strict=False)
        return [(str(network.network_address), str(network.netmask))] if network.prefixlen < 32 \
            else [str(network.network_address)]
    ips = [_host_ip(n, state) for n in hosts_of(spec, state, vnf_names)]
    return [ip for ip in ips if ip] or []


def _towards(graph: nx.Graph, target: int) -> dict[int, int]:
    """For every switch, the port towards ``target`` (shortest paths)."""
    if target not in graph:
        return {}
    paths = nx.single_source_dijkstra_path(graph, target, weight="w")
    return {dpid: graph[dpid][path[-2]]["ports"][dpid] for dpid, path in paths.items() if dpid != target}


def _steer(here: int, entry: tuple[int, int], vid: int, towards: dict[int, int]) -> list | None:
    """Actions sending a classified packet from switch ``here`` to the VNF interface ``entry``."""
    if here == entry[0]:
        return [ofmsg.output(entry[1])]
    if here not in towards:
        return None  # no path: leave the packet to normal forwarding
    return ofmsg.push_vlan(vid) + [ofmsg.output(towards[here])]


def _add(out: dict[int, list], dpid: int, match: dict, actions: list, goto_forward: bool = False) -> None:
    instructions = [ofmsg.apply_actions(actions)] if actions else []
    if goto_forward:
        instructions.append(ofmsg.goto(FORWARD.table_id))
    out.setdefault(dpid, []).append(ofmsg.flow_add(INGRESS.table_id, PRIORITY_STEER, ofmsg.match(**match),
                                                   instructions, cookie=COOKIE_SFC))


def chain_msgs(chain: Chain, index: int, state: NetworkState, graph: nx.Graph, vnf_names: set[str]) -> dict[int, list]:
    """Flow-mods steering ``chain`` (both directions if symmetric) on every switch."""
    out: dict[int, list] = {}
    vnfs = [_attachments(name, state) for name in chain.vnfs]
    if not all(vnfs):
        return out  # a VNF host is not attached (yet): no steering rather than a black hole
    directions = [False, True] if chain.symmetric else [False]
    for reverse in directions:
        near, far = (chain.match.dst, chain.match.src) if reverse else (chain.match.src, chain.match.dst)
        order = list(reversed(vnfs)) if reverse else vnfs
        # (entry, exit) attachment of each VNF for this direction: eth0 -> eth1 forward, eth1 -> eth0 back
        hops = [(att[-1], att[0]) if reverse else (att[0], att[-1]) for att in order]
        base = _l4_fields(chain, reverse)
        far_ips = _ip_match(far, state, vnf_names)
        near_ips = _ip_match(near, state, vnf_names) if near is None or _is_ip(near) else [None]
        matches = []
        for far_ip in far_ips:
            for near_ip in near_ips:
                fields = dict(base)
                if far_ip is not None:
                    fields["ipv4_dst"] = far_ip
                if near_ip is not None:
                    fields["ipv4_src"] = near_ip
                matches.append(fields)
        towards_entry = [_towards(graph, entry[0]) for entry, _exit in hops]
        # classification at the ports of the hosts this direction starts from
        for name in hosts_of(near, state, vnf_names):
            for dpid, port in _attachments(name, state)[:1]:
                actions = _steer(dpid, hops[0][0], stage_vid(index, reverse, 1), towards_entry[0])
                for fields in matches:
                    if actions is not None:
                        _add(out, dpid, dict(fields, in_port=port), actions)
        for stage, (entry, exit_) in enumerate(hops, start=1):
            vid = stage_vid(index, reverse, stage)
            towards = towards_entry[stage - 1]
            for dpid in graph.nodes:
                if dpid == entry[0]:
                    _add(out, dpid, {"vlan_vid": ofmsg.VLAN_PRESENT | vid},
                         [ofmsg.pop_vlan(), ofmsg.output(entry[1])])
                elif dpid in towards:
                    _add(out, dpid, {"vlan_vid": ofmsg.VLAN_PRESENT | vid}, [ofmsg.output(towards[dpid])])
            # what the VNF emits goes to the next stage, or to normal delivery after the last one
            for fields in matches:
                if stage < len(hops):
                    actions = _steer(exit_[0], hops[stage][0], stage_vid(index, reverse, stage + 1), towards_entry[stage])
                    if actions is not None:
                        _add(out, exit_[0], dict(fields, in_port=exit_[1]), actions)
                else:
                    _add(out, exit_[0], dict(fields, in_port=exit_[1]), [], goto_forward=True)
    return out


def clear_msgs() -> list:
    """Delete every steering flow (before re-installing after a change)."""
    return [ofmsg.flow_delete(INGRESS.table_id, cookie=COOKIE_SFC, cookie_mask=COOKIE_SFC_MASK)]
