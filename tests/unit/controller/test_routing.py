"""Shortest-path routes towards a host, with weights and loop-free backups."""

import networkx as nx

from sdnlab.controller import ofmsg
from sdnlab.controller.network import DiscoveredNetwork, Host, LinkInfo
from sdnlab.controller.pipeline import PRIORITY_BYPASS, check_flow
from sdnlab.controller.routing import route_msgs, routes_to


def ring(n=4, delays=None, bws=None) -> DiscoveredNetwork:
    """Switches 1..n in a ring; port 2 goes to the next switch, port 3 to the previous, port 1 is a host."""
    state = DiscoveredNetwork()
    for dpid in range(1, n + 1):
        state.switch_up(dpid, {1, 2, 3})
    for dpid in range(1, n + 1):
        nxt = dpid % n + 1
        state.add_link((dpid, 2), (nxt, 3))
        info = LinkInfo((delays or {}).get(dpid, 1.0), (bws or {}).get(dpid))
        state.link_info[frozenset({(dpid, 2), (nxt, 3)})] = info
    return state


HOST = Host("00:00:00:00:00:03", 3, 1)


def by_dpid(routes):
    return {r.dpid: r for r in routes}


def test_every_switch_gets_the_port_towards_the_host():
    routes = by_dpid(routes_to(ring().graph(), HOST))
    assert routes[3].out_port == 1  # delivered on the host's own port
    assert routes[2].out_port == 2 and routes[4].out_port == 3
    assert routes[1].out_port in (2, 3)


def test_latency_weight_avoids_a_slow_link():
    state = ring(delays={1: 50.0})  # link 1-2 is slow
    routes = by_dpid(routes_to(state.graph("latency"), Host("00:00:00:00:00:02", 2, 1)))
    assert routes[1].out_port == 3  # 1 -> 4 -> 3 -> 2 rather than the slow direct link


def test_capacity_weight_prefers_fat_links():
    state = ring(bws={1: 10.0, 4: 1000.0, 3: 1000.0, 2: 1000.0})
    routes = by_dpid(routes_to(state.graph("capacity"), Host("00:00:00:00:00:02", 2, 1)))
    assert routes[1].out_port == 3


def test_protection_gives_each_switch_a_backup_on_the_other_side_of_the_ring():
    routes = by_dpid(routes_to(ring().graph(), HOST, protection=True))
    assert routes[2].backup_port == 3 and routes[4].backup_port == 2
    assert routes[3].backup_port is None


def test_protected_route_is_a_fast_failover_group_plus_a_bounce_back_bypass():
    route = by_dpid(routes_to(ring().graph(), HOST, protection=True))[2]
    msgs = route_msgs(route, 1000, group_exists=False)
    group = next(m for m in msgs if isinstance(m, ofmsg.parser.OFPGroupMod))
    assert group.type == ofmsg.ofp.OFPGT_FF and [b.watch_port for b in group.buckets] == [2, 3]
    bypass = next(m for m in msgs if ofmsg.is_flow_add(m) and m.priority == PRIORITY_BYPASS)
    assert dict(bypass.match.items()) == {"in_port": 2, "eth_dst": HOST.mac}
    assert ofmsg.output_ports(bypass) == [3]
    for msg in msgs:
        if isinstance(msg, ofmsg.parser.OFPFlowMod):
            check_flow(msg)


def test_a_cut_link_reroutes_the_long_way():
    state = ring()
    state.port_down(2, 2)  # link 2-3 down
    routes = by_dpid(routes_to(state.graph(), HOST))
    assert routes[2].out_port == 3  # 2 -> 1 -> 4 -> 3


def test_unreachable_host_gets_no_routes():
    assert routes_to(nx.Graph(), HOST) == []


def test_a_changed_protected_route_removes_its_stale_bypass_and_keeps_a_valid_one():
    old = by_dpid(routes_to(ring().graph(), HOST, protection=True))[2]
    state = ring()
    state.port_down(2, 2)
    new = by_dpid(routes_to(state.graph(), HOST, protection=True))[2]
    msgs = route_msgs(new, 1000, group_exists=True, previous=old)
    stale = [
        m
        for m in msgs
        if isinstance(m, ofmsg.parser.OFPFlowMod) and m.command == ofmsg.ofp.OFPFC_DELETE_STRICT
    ]
    assert [dict(m.match.items()) for m in stale] == [{"in_port": old.out_port, "eth_dst": HOST.mac}]
    assert route_msgs(old, 1000, group_exists=True, previous=old)[0].command == ofmsg.ofp.OFPGC_MODIFY
