"""Service function chaining: steer classified flows through an ordered list of VNF hosts.

A chain's traffic is classified where it enters (the source hosts' switch ports), tagged with a
VLAN id naming (chain, direction, stage), carried by tag towards the next VNF's switch, untagged
and handed to the VNF. What the VNF emits on its other interface (or the same one, one-armed)
is classified again for the next stage; after the last VNF the packet goes to normal delivery
(table FORWARD). With ``symmetric`` the reverse 5-tuple runs through the VNFs in reverse order,
entering each by its ``eth1`` side. All flows live in table INGRESS at ``PRIORITY_STEER`` with
``COOKIE_SFC``; ``chain_msgs`` is pure: it needs the network state and the routing graph.

Offload: once VNFs have decided a flow, ``bypass_msgs`` adds exact 5-tuple rules at
``PRIORITY_OFFLOAD`` that carry that one flow past the VNFs that asked, straight to the next VNF
that still wants it (its stage tag) or to FORWARD. Their cookies lie in the SFC family
(``COOKIE_OFFLOAD`` | offload id), so re-steering a chain (``clear_msgs``) removes them too.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import networkx as nx

from sdnlab.controller import ofmsg
from sdnlab.controller.config import Chain
from sdnlab.controller.network import DiscoveredNetwork
from sdnlab.controller.pipeline import FORWARD, INGRESS, PRIORITY_OFFLOAD, PRIORITY_STEER

COOKIE_SFC = 0x5D1AB5F0_00000000
COOKIE_SFC_MASK = 0xFFFFFFFF_00000000
# per-flow offload rules: the SFC family with bit 31 set; the low 31 bits carry the offload id
COOKIE_OFFLOAD = COOKIE_SFC | 0x80000000
COOKIE_OFFLOAD_MASK = COOKIE_SFC_MASK | 0x80000000
OFFLOAD_ID_MASK = 0x7FFFFFFF
OFFLOAD_IDLE_TIMEOUT_S = 10  # an offloaded flow's rules go when the flow has been idle this long
VLAN_BASE = 3000


def stage_vid(chain_index: int, reverse: bool, stage: int) -> int:
    """The VLAN id of ``stage`` (1-based) of a chain direction."""
    return VLAN_BASE + chain_index * 64 + (32 if reverse else 0) + stage


def _is_ip(spec: str | None) -> bool:
    return spec is not None and spec[0].isdigit()


def hosts_of(spec: str | None, state: DiscoveredNetwork, vnf_names: set[str]) -> list[str]:
    """Declared non-VNF host names an endpoint spec selects (all of them for None or an IP/CIDR)."""
    names = [n for n in state.host_roles if n not in vnf_names]
    if spec is None or _is_ip(spec):
        if spec is None:
            return names
        network = ipaddress.ip_network(spec, strict=False)
        return [n for n in names if (ip := _host_ip(n, state)) and ipaddress.ip_address(ip) in network]
    if spec.startswith("role:"):
        role = spec[len("role:") :]
        return [n for n in names if role in state.host_roles[n]]
    return [spec] if spec in state.host_roles else []


def _host_ip(name: str, state: DiscoveredNetwork) -> str | None:
    for mac in state.host_macs.get(name, ()):
        host = state.hosts.get(mac)
        if host is not None and host.ip:
            return host.ip
    return None


def _attachments(name: str, state: DiscoveredNetwork) -> list[tuple[int, int]]:
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
    prefix = {6: "tcp", 17: "udp"}.get(match.ip_proto or 0)
    if prefix and src_port is not None:
        fields[f"{prefix}_src"] = src_port
    if prefix and dst_port is not None:
        fields[f"{prefix}_dst"] = dst_port
    return fields


def _ip_match(spec: str | None, state: DiscoveredNetwork, vnf_names: set[str]) -> list[str | tuple | None]:
    """ipv4 match values for the far end of a flow: one per selected host, a CIDR, or None (any)."""
    if spec is None:
        return [None]
    if _is_ip(spec):
        network = ipaddress.ip_network(spec, strict=False)
        return (
            [(str(network.network_address), str(network.netmask))]
            if network.prefixlen < 32
            else [str(network.network_address)]
        )
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
    return [*ofmsg.push_vlan(vid), ofmsg.output(towards[here])]


def _add(out: dict[int, list], dpid: int, match: dict, actions: list, goto_forward: bool = False) -> None:
    instructions = [ofmsg.apply_actions(actions)] if actions else []
    if goto_forward:
        instructions.append(ofmsg.goto(FORWARD.table_id))
    out.setdefault(dpid, []).append(
        ofmsg.flow_add(
            INGRESS.table_id, PRIORITY_STEER, ofmsg.match(**match), instructions, cookie=COOKIE_SFC
        )
    )


def _hops(vnfs: list[list[tuple[int, int]]], reverse: bool) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(entry, exit) attachment of each VNF in the order a direction visits them.

    Forward a VNF is entered by its first interface (eth0) and left by its last (eth1); the
    return direction visits the VNFs in reverse order, entering each by eth1.
    """
    order = list(reversed(vnfs)) if reverse else vnfs
    return [(att[-1], att[0]) if reverse else (att[0], att[-1]) for att in order]


def chain_msgs(
    chain: Chain, index: int, state: DiscoveredNetwork, graph: nx.Graph, vnf_names: set[str]
) -> dict[int, list]:
    """Flow-mods steering ``chain`` (both directions if symmetric) on every switch."""
    out: dict[int, list] = {}
    vnfs = [_attachments(name, state) for name in chain.vnfs]
    if not all(vnfs):
        return out  # a VNF host is not attached (yet): no steering rather than a black hole
    directions = [False, True] if chain.symmetric else [False]
    for reverse in directions:
        near, far = (chain.match.dst, chain.match.src) if reverse else (chain.match.src, chain.match.dst)
        hops = _hops(vnfs, reverse)
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
                    _add(
                        out,
                        dpid,
                        {"vlan_vid": ofmsg.VLAN_PRESENT | vid},
                        [ofmsg.pop_vlan(), ofmsg.output(entry[1])],
                    )
                elif dpid in towards:
                    _add(out, dpid, {"vlan_vid": ofmsg.VLAN_PRESENT | vid}, [ofmsg.output(towards[dpid])])
            # what the VNF emits goes to the next stage, or to normal delivery after the last one
            for fields in matches:
                if stage < len(hops):
                    actions = _steer(
                        exit_[0], hops[stage][0], stage_vid(index, reverse, stage + 1), towards_entry[stage]
                    )
                    if actions is not None:
                        _add(out, exit_[0], dict(fields, in_port=exit_[1]), actions)
                else:
                    _add(out, exit_[0], dict(fields, in_port=exit_[1]), [], goto_forward=True)
    return out


def clear_msgs() -> list:
    """Delete every steering flow (before re-installing after a change)."""
    return [ofmsg.flow_delete(INGRESS.table_id, cookie=COOKIE_SFC, cookie_mask=COOKIE_SFC_MASK)]


# -- offload: one decided flow skips the VNFs that asked ------------------------------------
@dataclass(frozen=True)
class FiveTuple:
    """One direction of a TCP or UDP conversation, as a packet's headers carry it."""

    proto: int
    src: str
    sport: int
    dst: str
    dport: int

    def reversed(self) -> FiveTuple:
        """The other direction of the same conversation."""
        return FiveTuple(self.proto, self.dst, self.dport, self.src, self.sport)

    def match_fields(self) -> dict:
        """OXM fields matching exactly this direction."""
        prefix = {6: "tcp", 17: "udp"}[self.proto]
        return {
            "eth_type": ofmsg.ETH_TYPE_IP,
            "ip_proto": self.proto,
            "ipv4_src": self.src,
            "ipv4_dst": self.dst,
            f"{prefix}_src": self.sport,
            f"{prefix}_dst": self.dport,
        }


def _selects(spec: str | None, ip: str, state: DiscoveredNetwork, vnf_names: set[str]) -> bool:
    """Whether an endpoint spec of a chain (None, host, ``role:``, IP or CIDR) covers ``ip``."""
    if spec is None:
        return True
    if _is_ip(spec):
        return ipaddress.ip_address(ip) in ipaddress.ip_network(spec, strict=False)
    return ip in {_host_ip(name, state) for name in hosts_of(spec, state, vnf_names)}


def chain_carries(chain: Chain, five: FiveTuple, state: DiscoveredNetwork, vnf_names: set[str]) -> bool:
    """Whether ``chain`` classifies ``five`` in its forward direction."""
    match = chain.match
    return (
        (match.ip_proto is None or match.ip_proto == five.proto)
        and (match.src_port is None or match.src_port == five.sport)
        and (match.dst_port is None or match.dst_port == five.dport)
        and _selects(match.src, five.src, state, vnf_names)
        and _selects(match.dst, five.dst, state, vnf_names)
    )


def orient(chain: Chain, five: FiveTuple, state: DiscoveredNetwork, vnf_names: set[str]) -> FiveTuple | None:
    """``five`` as the chain's forward direction sees it (a VNF may ask with a reply's tuple), or
    None when the chain does not carry that conversation."""
    if chain_carries(chain, five, state, vnf_names):
        return five
    if chain.symmetric and chain_carries(chain, five.reversed(), state, vnf_names):
        return five.reversed()
    return None


@dataclass(frozen=True)
class Rewrite:
    """The NAT a VNF (the load balancer) hands to the switch with its offload request: on the way
    in the flow's destination becomes the backend; on the way back its source becomes what the
    destination was (the VIP and port) again."""

    backend_ip: str
    backend_port: int
    backend_mac: str | None = None
    vip_mac: str | None = None


def _nat_in(rewrite: Rewrite, current: FiveTuple) -> tuple[list, FiveTuple]:
    """Actions turning ``current`` (client -> VIP) into client -> backend, and the new tuple."""
    prefix = {6: "tcp", 17: "udp"}[current.proto]
    actions = [ofmsg.set_field(eth_dst=rewrite.backend_mac)] if rewrite.backend_mac else []
    actions += [
        ofmsg.set_field(ipv4_dst=rewrite.backend_ip),
        ofmsg.set_field(**{f"{prefix}_dst": rewrite.backend_port}),
    ]
    return actions, FiveTuple(
        current.proto, current.src, current.sport, rewrite.backend_ip, rewrite.backend_port
    )


def _nat_out(rewrite: Rewrite, before: FiveTuple) -> tuple[list, FiveTuple]:
    """Actions giving a reply the source it had before ``_nat_in`` (the VIP), and the new tuple."""
    prefix = {6: "tcp", 17: "udp"}[before.proto]
    actions = [ofmsg.set_field(eth_src=rewrite.vip_mac)] if rewrite.vip_mac else []
    actions += [ofmsg.set_field(ipv4_src=before.dst), ofmsg.set_field(**{f"{prefix}_src": before.dport})]
    return actions, before.reversed()


def bypass_msgs(
    chain: Chain,
    index: int,
    five: FiveTuple,
    bypassed: set[str],
    state: DiscoveredNetwork,
    graph: nx.Graph,
    cookie: int = COOKIE_OFFLOAD,
    idle_timeout: int = OFFLOAD_IDLE_TIMEOUT_S,
    rewrites: dict[str, Rewrite] | None = None,
    problems: list[str] | None = None,
) -> dict[int, list]:
    """Rules carrying one flow of ``chain`` past the VNF hosts in ``bypassed`` (both ways if symmetric).

    ``five`` is the flow as the chain's forward direction sees it. At every point that would
    hand the flow to a bypassed VNF (the source host's port, or the exit port of the VNF before
    it), an exact 5-tuple rule at ``PRIORITY_OFFLOAD`` sends it instead to the next VNF that
    was not bypassed (tagged with that VNF's stage VLAN, as the chain's own steering would) or,
    when none is left, to table FORWARD. A bypassed VNF listed in ``rewrites`` has its NAT done
    by that rule (``set_field``), and the tuple the later rules match changes with it. The rules
    expire after ``idle_timeout`` seconds of silence and ask the switch for a flow-removed
    message, so the controller sees them go. Each rule that cannot be built (a VNF host not
    attached, the flow's source not a known host, no path to the next VNF) is described in
    ``problems`` when a list is given.
    """
    out: dict[int, list] = {}
    rewrites = rewrites or {}
    problems = [] if problems is None else problems
    vnfs = [_attachments(name, state) for name in chain.vnfs]
    if not all(vnfs):
        missing = [name for name, att in zip(chain.vnfs, vnfs, strict=False) if not att]
        problems.append(
            f"VNF host {', '.join(map(repr, missing))} of chain {chain.name!r} is not attached "
            f"(the controller has not seen it yet)"
        )
        return out
    before_nat: list[FiveTuple] = []  # the tuple before each switch-done NAT, in forward order
    current = five
    for reverse in [False, True] if chain.symmetric else [False]:
        if reverse:
            current = current.reversed()  # the reply leaves the last host the forward flow reached
        names = list(reversed(chain.vnfs)) if reverse else list(chain.vnfs)
        hops = _hops(vnfs, reverse)
        source = state.host_by(current.src)
        point = (source.dpid, source.port_no) if source is not None else None
        arrive, actions, skipping = current, [], False
        for stage, name in enumerate([*names, None]):  # None: past the last VNF, delivery
            if name is not None and name in bypassed:
                skipping = True
                rewrite = rewrites.get(name)
                if rewrite is not None and reverse:
                    more, current = _nat_out(rewrite, before_nat.pop())
                    actions += more
                elif rewrite is not None:
                    before_nat.append(current)
                    more, current = _nat_in(rewrite, current)
                    actions += more
                continue
            if skipping and point is None:
                problems.append(
                    f"the {'reply' if reverse else 'flow'}'s source {arrive.src} is not a known host "
                    f"(the controller has not seen it), so there is no switch port to put the rule at"
                )
            elif (
                skipping
                and point is not None
                and not _add_bypass(
                    out,
                    point,
                    arrive,
                    index,
                    reverse,
                    hops,
                    None if name is None else stage,
                    actions,
                    graph,
                    cookie,
                    idle_timeout,
                )
            ):
                problems.append(
                    f"no path from switch {state.names.get(point[0], point[0])} to VNF {name!r} "
                    f"of chain {chain.name!r}"
                )
            if name is not None:
                point, arrive, actions, skipping = hops[stage][1], current, [], False
    return out


def _add_bypass(
    out: dict[int, list],
    point: tuple[int, int],
    arrive: FiveTuple,
    index: int,
    reverse: bool,
    hops: list,
    following: int | None,
    actions: list,
    graph: nx.Graph,
    cookie: int,
    idle_timeout: int,
) -> bool:
    """One offload rule at ``point`` (dpid, in_port) for the flow as it ``arrive``s there: do the
    bypassed VNFs' ``actions``, then on to the entry of VNF ``following`` or to FORWARD. False
    when there is no path to that VNF (no rule)."""
    dpid, in_port = point
    if following is None:
        instructions = ([ofmsg.apply_actions(actions)] if actions else []) + [ofmsg.goto(FORWARD.table_id)]
    else:
        entry = hops[following][0]
        steer = _steer(dpid, entry, stage_vid(index, reverse, following + 1), _towards(graph, entry[0]))
        if steer is None:
            return False  # no path to that VNF: the chain's own steering keeps the flow
        instructions = [ofmsg.apply_actions(actions + steer)]
    match = ofmsg.match(in_port=in_port, **arrive.match_fields())
    out.setdefault(dpid, []).append(
        ofmsg.flow_add(
            INGRESS.table_id,
            PRIORITY_OFFLOAD,
            match,
            instructions,
            idle_timeout=idle_timeout,
            cookie=cookie,
            send_flow_rem=True,
        )
    )
    return True


def offload_clear_msgs(offload_id: int | None = None) -> list:
    """Delete the rules of one offload (by its id), or of every offload."""
    if offload_id is None:
        return [ofmsg.flow_delete(INGRESS.table_id, cookie=COOKIE_OFFLOAD, cookie_mask=COOKIE_OFFLOAD_MASK)]
    return [
        ofmsg.flow_delete(
            INGRESS.table_id,
            cookie=COOKIE_OFFLOAD | (offload_id & OFFLOAD_ID_MASK),
            cookie_mask=0xFFFFFFFF_FFFFFFFF,
        )
    ]
