"""Offloading one decided flow of a service chain: exact 5-tuple rules that skip the VNFs that asked.

The chain h1 -> v1 -> v2 -> v3 -> h2 (tcp, symmetric): v1 and v2 hang off s1 with h1, v3 off s2
with h2. Forward the VNFs are entered by eth0, on the way back by eth1 and in reverse order.
"""

import pytest
from os_ken.ofproto import ofproto_v1_3
from os_ken.ofproto.ofproto_protocol import ProtocolDesc

from sdnlab.controller import ofmsg
from sdnlab.controller.config import parse_config
from sdnlab.controller.fabric import Fabric
from sdnlab.controller.network import load_declared
from sdnlab.controller.offload import Conflict, OffloadRequest, OffloadTable
from sdnlab.controller.pipeline import FORWARD, INGRESS, PRIORITY_OFFLOAD, PRIORITY_STEER, check_flow
from sdnlab.controller.rest_input import NotFound
from sdnlab.controller.sfc import (
    COOKIE_OFFLOAD,
    COOKIE_SFC,
    COOKIE_SFC_MASK,
    OFFLOAD_IDLE_TIMEOUT_S,
    FiveTuple,
    Rewrite,
    bypass_msgs,
    offload_clear_msgs,
    stage_vid,
)


def _host(name, ip, *macs):
    return {
        "name": name,
        "kind": "vnf" if ip is None else "host",
        "roles": [],
        "interfaces": [{"mac": mac, "ip": ip} for mac in macs],
    }


TOPOLOGY = {
    "nodes": [
        {"name": "s1", "kind": "switch", "dpid": 1, "interfaces": []},
        {"name": "s2", "kind": "switch", "dpid": 2, "interfaces": []},
        _host("h1", "10.0.0.1", "00:00:00:00:00:01"),
        _host("h2", "10.0.0.2", "00:00:00:00:00:02"),
        _host("h3", "10.0.0.3", "00:00:00:00:00:03"),
        _host("v1", None, "00:00:00:00:01:00", "00:00:00:00:01:01"),
        _host("v2", None, "00:00:00:00:02:00", "00:00:00:00:02:01"),
        _host("v3", None, "00:00:00:00:03:00", "00:00:00:00:03:01"),
    ],
    "links": [
        {"a": "h1", "b": "s1", "a_port": 0, "b_port": 1},
        {"a": "v1", "b": "s1", "a_port": 0, "b_port": 2},
        {"a": "v1", "b": "s1", "a_port": 1, "b_port": 3},
        {"a": "v2", "b": "s1", "a_port": 0, "b_port": 4},
        {"a": "v2", "b": "s1", "a_port": 1, "b_port": 5},
        {"a": "s1", "b": "s2", "a_port": 6, "b_port": 4},
        {"a": "h2", "b": "s2", "a_port": 0, "b_port": 1},
        {"a": "v3", "b": "s2", "a_port": 0, "b_port": 2},
        {"a": "v3", "b": "s2", "a_port": 1, "b_port": 3},
        {"a": "h3", "b": "s2", "a_port": 0, "b_port": 5},
    ],
}
H1_PORT, V1_IN, V1_OUT, V2_IN, V2_OUT, S1_TO_S2 = 1, 2, 3, 4, 5, 6  # on s1
H2_PORT, V3_IN, V3_OUT, S2_TO_S1 = 1, 2, 3, 4  # on s2

WEB = FiveTuple(6, "10.0.0.1", 40000, "10.0.0.2", 80)  # h1 -> h2, as the chain's forward direction sees it


def fabric(symmetric=True, chains=None):
    chain = {
        "name": "web",
        "match": {"src": "h1", "dst": "h2", "ip_proto": "tcp", "dst_port": 80},
        "vnfs": ["v1", "v2", "v3"],
        "symmetric": symmetric,
    }
    other = {"name": "mail", "match": {"src": "h3", "ip_proto": "tcp", "dst_port": 25}, "vnfs": ["v3"]}
    vip = {
        "name": "vip",
        "match": {"src": "h3", "ip_proto": "tcp"},
        "vnfs": ["v1", "v2"],
    }  # v2: a load balancer
    chains = [chain, other, vip] if chains is None else chains
    fab = Fabric(parse_config({"chains": chains}, host_names={n["name"] for n in TOPOLOGY["nodes"]}))
    load_declared(fab.state, TOPOLOGY)
    fab.mark_chain_vnfs()
    fab.switch_up(0.0, 1, set(range(1, 7)))
    fab.switch_up(0.0, 2, set(range(1, 6)))
    return fab


def bypass(bypassed, symmetric=True, flow=WEB):
    fab = fabric(symmetric)
    return bypass_msgs(fab.config.chains[0], 0, flow, set(bypassed), fab.state, fab.state.graph())


def rule(out, dpid, in_port):
    """The one offload rule at (dpid, in_port)."""
    (flow,) = [m for m in out.get(dpid, []) if dict(m.match.items())["in_port"] == in_port]
    return flow


def goes_to_forward(flow):
    return [type(i).__name__ for i in flow.instructions] == ["OFPInstructionGotoTable"] and flow.instructions[
        0
    ].table_id == FORWARD.table_id


def set_fields(flow):
    """{field: value} of the rule's set_field actions."""
    return {
        a.key: a.value for a in flow.instructions[0].actions if isinstance(a, ofmsg.parser.OFPActionSetField)
    }


def pushed_vid(flow):
    vid = set_fields(flow).get("vlan_vid")
    return None if vid is None else vid & 0xFFF


def count(out):
    return sum(len(msgs) for msgs in out.values())


def test_skipping_the_first_vnf_sends_the_flow_from_its_source_straight_to_the_second():
    out = bypass({"v1"})
    forward = rule(out, 1, H1_PORT)
    assert ofmsg.output_ports(forward) == [V2_IN] and pushed_vid(forward) is None  # same switch: untagged
    assert dict(forward.match.items()) == {
        "in_port": H1_PORT,
        "eth_type": 0x0800,
        "ip_proto": 6,
        "ipv4_src": "10.0.0.1",
        "ipv4_dst": "10.0.0.2",
        "tcp_src": 40000,
        "tcp_dst": 80,
    }
    back = rule(out, 1, V2_IN)  # on the way back v1 comes last: leaving v2 (by its eth0) means delivery
    assert goes_to_forward(back)
    assert dict(back.match.items())["ipv4_src"] == "10.0.0.2" and dict(back.match.items())["tcp_src"] == 80
    assert count(out) == 2


def test_skipping_two_consecutive_vnfs_tags_the_flow_for_the_third_one_on_the_other_switch():
    out = bypass({"v1", "v2"})
    forward = rule(out, 1, H1_PORT)
    assert ofmsg.output_ports(forward) == [S1_TO_S2] and pushed_vid(forward) == stage_vid(0, False, 3)
    assert goes_to_forward(rule(out, 2, V3_IN))  # back: after v3 nothing is left
    assert count(out) == 2


def test_skipping_the_last_vnf_delivers_after_the_one_before_it():
    out = bypass({"v3"})
    assert goes_to_forward(rule(out, 1, V2_OUT))
    back = rule(out, 2, H2_PORT)  # the reply starts at h2, whose first VNF (v3) is skipped: on to v2
    assert ofmsg.output_ports(back) == [S2_TO_S1] and pushed_vid(back) == stage_vid(0, True, 2)
    assert count(out) == 2


def test_skipping_every_vnf_delivers_from_both_ends():
    out = bypass({"v1", "v2", "v3"})
    assert goes_to_forward(rule(out, 1, H1_PORT)) and goes_to_forward(rule(out, 2, H2_PORT))
    assert count(out) == 2


def test_a_one_way_chain_gets_rules_for_its_forward_direction_only():
    out = bypass({"v2"}, symmetric=False)
    assert ofmsg.output_ports(rule(out, 1, V1_OUT)) == [S1_TO_S2]
    assert count(out) == 1


def test_offload_rules_outrank_steering_expire_when_idle_and_report_their_removal():
    out = bypass({"v1", "v3"})
    assert count(out) == 4
    for flows in out.values():
        for flow in flows:
            check_flow(flow)
            assert flow.table_id == INGRESS.table_id and flow.priority == PRIORITY_OFFLOAD > PRIORITY_STEER
            assert flow.idle_timeout == OFFLOAD_IDLE_TIMEOUT_S and flow.hard_timeout == 0
            assert flow.flags & ofmsg.ofp.OFPFF_SEND_FLOW_REM
            # a distinct cookie, inside the SFC family so that re-steering a chain removes them too
            assert flow.cookie == COOKIE_OFFLOAD and flow.cookie & COOKIE_SFC_MASK == COOKIE_SFC
            assert flow.cookie != COOKIE_SFC


def test_no_vnf_bypassed_means_no_rules():
    assert bypass(set()) == {}


VIP_FLOW = FiveTuple(6, "10.0.0.3", 5555, "10.0.0.100", 80)  # h3 -> the VIP that v2 balances
TO_H2 = Rewrite("10.0.0.2", 8080, "00:00:00:00:00:02", "02:00:00:00:00:64")


def test_a_bypassed_load_balancer_has_its_nat_done_by_the_rules_both_ways():
    fab = fabric()
    out = bypass_msgs(
        fab.config.chains[2], 2, VIP_FLOW, {"v2"}, fab.state, fab.state.graph(), rewrites={"v2": TO_H2}
    )
    inbound = rule(out, 1, V1_OUT)  # h3 -> VIP leaves v1 and meets v2's NAT in the switch, then delivery
    assert (
        dict(inbound.match.items())["ipv4_dst"] == "10.0.0.100"
        and dict(inbound.match.items())["tcp_dst"] == 80
    )
    assert set_fields(inbound) == {"eth_dst": "00:00:00:00:00:02", "ipv4_dst": "10.0.0.2", "tcp_dst": 8080}
    assert type(inbound.instructions[0]).__name__ == "OFPInstructionActions"  # the NAT first,
    assert [i.table_id for i in inbound.instructions[1:]] == [FORWARD.table_id]  # then delivery
    reply = rule(out, 2, H2_PORT)  # the backend answers from its own address; the rule puts the VIP back
    assert (
        dict(reply.match.items())["ipv4_src"] == "10.0.0.2" and dict(reply.match.items())["tcp_src"] == 8080
    )
    assert set_fields(reply) == {
        "eth_src": "02:00:00:00:00:64",
        "ipv4_src": "10.0.0.100",
        "tcp_src": 80,
        "vlan_vid": ofmsg.VLAN_PRESENT | stage_vid(2, True, 2),
    }  # then on to v1
    assert ofmsg.output_ports(reply) == [S2_TO_S1]
    assert count(out) == 2


# -- the controller's record of offloads -------------------------------------------------------
def ask(table, fab, vnf, flow=WEB):
    return table.offload(
        OffloadRequest(vnf, "bypass", flow),
        fab.config.chains,
        fab.state,
        fab.state.graph(),
        fab.vnf_names,
        100.0,
    )


def test_a_request_made_with_the_replys_tuple_offloads_the_same_flow():
    fab, table = fabric(), OffloadTable()
    (entry,), out = ask(table, fab, "v1", WEB.reversed())
    assert entry.chain == "web" and entry.flow == WEB and entry.vnfs == ("v1",)
    assert entry.rules == count(out) == 2


def test_a_second_vnf_asking_widens_the_bypass_and_replaces_the_first_rules():
    fab, table = fabric(), OffloadTable()
    (first,), _ = ask(table, fab, "v1")
    (second,), out = ask(table, fab, "v2")
    assert second.vnfs == ("v1", "v2") and second.offload_id != first.offload_id
    deletes = [m for m in out[1] if not ofmsg.is_flow_add(m)]
    assert deletes and deletes[0].cookie == first.cookie and deletes[0].cookie_mask == 0xFFFFFFFF_FFFFFFFF
    assert [m.cookie for m in out[1] if ofmsg.is_flow_add(m)] == [second.cookie]
    assert [e["bypassed"] for e in table.listing()] == [["v1", "v2"]]


def test_asking_again_reinstalls_rules_that_idled_out():
    fab, table = fabric(), OffloadTable()
    (first,), _ = ask(table, fab, "v1")
    table.rule_removed(first.cookie)  # one direction idled out; the other still carries the flow
    assert [e["rules"] for e in table.listing()] == [1]
    (again,), out = ask(table, fab, "v1")
    assert again.vnfs == ("v1",) and again.rules == 2 and again.offload_id != first.offload_id
    deletes = [m for msgs in out.values() for m in msgs if not ofmsg.is_flow_add(m)]
    adds = [m for msgs in out.values() for m in msgs if ofmsg.is_flow_add(m)]
    assert {m.cookie for m in deletes} == {first.cookie} and [m.cookie for m in adds] == [again.cookie] * 2
    assert out[1].index(deletes[0]) < out[1].index(adds[0])  # the old rules go first
    assert [(e["id"], e["rules"]) for e in table.listing()] == [(again.offload_id, 2)]
    table.rule_removed(first.cookie)  # the deletion of the old rule reports it: no effect on the new one
    assert [e["rules"] for e in table.listing()] == [2]


def test_the_offload_ends_when_the_switches_removed_its_last_rule():
    fab, table = fabric(), OffloadTable()
    (entry,), _ = ask(table, fab, "v1")
    table.rule_removed(entry.cookie)
    assert len(table.listing()) == 1
    table.rule_removed(COOKIE_SFC)  # a steering flow: not an offload
    table.rule_removed(entry.cookie)
    assert table.listing() == []


def test_a_host_in_no_chain_is_not_found():
    fab, table = fabric(), OffloadTable()
    with pytest.raises(NotFound, match="vnf: 'h1' is in no chain"):
        ask(table, fab, "h1")
    with pytest.raises(NotFound, match="vnf: 'fw9' is not a host"):
        ask(table, fab, "fw9")


def test_a_flow_the_vnfs_chains_do_not_carry_is_a_conflict():
    fab, table = fabric(), OffloadTable()
    with pytest.raises(
        Conflict, match=r"6 10.0.0.1:40000 -> 10.0.0.2:8080 is not steered through 'v3' .*web, mail"
    ):
        ask(table, fab, "v3", FiveTuple(6, "10.0.0.1", 40000, "10.0.0.2", 8080))


def test_a_chain_whose_vnf_is_not_attached_cannot_offload():
    fab, table = fabric(), OffloadTable()
    for mac in fab.state.host_macs["v3"]:
        del fab.state.hosts[mac]
    with pytest.raises(Conflict, match="no offload rule can be built"):
        ask(table, fab, "v1")
    assert table.listing() == []


# -- a refused request changes nothing, and says why ---------------------------------------
SUBNET = {
    "name": "subnet",
    "match": {"src": "10.0.0.0/24", "ip_proto": "tcp"},
    "vnfs": ["v1", "v2"],
    "symmetric": False,
}
STRANGER = FiveTuple(6, "10.0.0.99", 1234, "10.0.0.2", 80)  # from an address no host of the network has


def test_a_refused_widening_keeps_the_offload_it_would_have_replaced():
    fab, table = fabric(chains=[SUBNET]), OffloadTable()
    (entry,), _ = ask(table, fab, "v2", STRANGER)  # skipping v2: a rule at v1's exit, which is known
    assert entry.rules == 1
    listed = table.listing()
    # skipping v1 too needs a rule at the source's switch port, and the source is no known host
    with pytest.raises(Conflict, match=r"chain 'subnet': the flow's source 10\.0\.0\.99 is not a known host"):
        ask(table, fab, "v1", STRANGER)
    assert table.listing() == listed and table.by_id == {entry.offload_id: entry}
    (again,), _ = ask(table, fab, "v2", STRANGER)  # the table is as it was: v2 can still renew its offload
    assert again.vnfs == ("v2",) and again.offload_id == entry.offload_id + 1


def test_a_refused_request_uses_up_no_offload_id():
    fab, table = fabric(chains=[SUBNET]), OffloadTable()
    with pytest.raises(Conflict):
        ask(table, fab, "v1", STRANGER)
    (entry,), _ = ask(table, fab, "v2", STRANGER)
    assert entry.offload_id == 1


def test_the_conflict_names_the_vnf_that_is_not_attached():
    fab, table = fabric(), OffloadTable()
    for mac in fab.state.host_macs["v3"]:
        del fab.state.hosts[mac]
    with pytest.raises(Conflict, match="VNF host 'v3' of chain 'web' is not attached"):
        ask(table, fab, "v1")


# -- disconnected switches: no rules sent, none counted ----------------------------------------
def ask_connected(table, fab, vnf, connected, flow=WEB):
    return table.offload(
        OffloadRequest(vnf, "bypass", flow),
        fab.config.chains,
        fab.state,
        fab.state.graph(),
        fab.vnf_names,
        100.0,
        connected=connected,
    )


def test_rules_for_a_disconnected_switch_are_neither_sent_nor_counted():
    fab, table = fabric(), OffloadTable()
    (entry,), out = ask_connected(table, fab, "v3", {1})  # the reply's rule would sit on s2, which is gone
    assert entry.rules == 1 and set(out) == {1} and count(out) == 1
    table.rule_removed(entry.cookie)  # the one rule that was sent idles out: the offload ends
    assert table.listing() == []


def test_an_offload_with_every_rule_on_disconnected_switches_is_a_conflict():
    fab, table = fabric(), OffloadTable()
    flow = FiveTuple(6, "10.0.0.3", 4444, "10.0.0.2", 25)  # mail: h3 -> v3 -> h2, all on s2
    with pytest.raises(Conflict, match=r"chain 'mail': switch s2 \(dpid 2\) is not connected"):
        ask_connected(table, fab, "v3", {1}, flow)
    assert table.listing() == []


# -- one switch rule belongs to one offload ------------------------------------------------------
def test_chains_sharing_the_vnf_and_the_flow_get_one_offload():
    """Both chains would put a rule for the flow at h1's port (same match, same priority): the
    first chain (in configuration order) gets the offload, the second none."""
    first = {"name": "a", "match": {"src": "h1", "ip_proto": "tcp"}, "vnfs": ["v1", "v2"], "symmetric": False}
    second = {"name": "b", "match": {"src": "h1", "ip_proto": "tcp", "dst_port": 80}, "vnfs": ["v1", "v3"]}
    fab, table = fabric(chains=[first, second]), OffloadTable()
    (entry,), out = ask(table, fab, "v1")
    assert entry.chain == "a" and count(out) == 1 and ofmsg.output_ports(rule(out, 1, H1_PORT)) == [V2_IN]
    assert [e["chain"] for e in table.listing()] == ["a"]
    (_again,), _ = ask(table, fab, "v1")  # asking again renews chain a's offload, still alone
    assert [e["chain"] for e in table.listing()] == ["a"]


def test_an_offload_whose_rules_another_chains_offload_holds_is_a_conflict():
    first = {"name": "a", "match": {"src": "h1", "ip_proto": "tcp"}, "vnfs": ["v1", "v2"], "symmetric": False}
    second = {"name": "b", "match": {"src": "h1", "ip_proto": "tcp"}, "vnfs": ["v3", "v2"]}
    fab, table = fabric(chains=[first, second]), OffloadTable()
    (_entry,), _ = ask(table, fab, "v1")
    with pytest.raises(
        Conflict, match=r"chain 'b': its rules would replace those of offload 1 \(chain 'a'\)"
    ):
        ask(table, fab, "v3")
    assert [(e["id"], e["chain"]) for e in table.listing()] == [(1, "a")]


# -- a switch refusing a rule ------------------------------------------------------------------------
def wire_bytes(msg):
    msg.datapath = ProtocolDesc(ofproto_v1_3.OFP_VERSION)
    msg.set_xid(7)
    msg.serialize()
    return bytes(msg.buf)


def test_a_refused_offload_rule_no_longer_counts_and_is_attributed():
    fab, table = fabric(), OffloadTable()
    (entry,), out = ask(table, fab, "v1")
    refused = wire_bytes(out[1][0])[:64]  # an error quotes at least the first 64 bytes of the request
    assert table.rule_rejected(refused) == (True, entry.offload_id)
    assert [e["rules"] for e in table.listing()] == [1]
    steering = ofmsg.flow_add(INGRESS.table_id, PRIORITY_STEER, ofmsg.match(in_port=1), [], cookie=COOKIE_SFC)
    assert table.rule_rejected(wire_bytes(steering)[:64]) == (True, None)
    assert table.rule_rejected(wire_bytes(ofmsg.barrier())) == (False, None)
    delete = wire_bytes(offload_clear_msgs(entry.offload_id)[0])
    assert table.rule_rejected(delete) == (True, entry.offload_id)  # attributed, but no rule was added
    assert [e["rules"] for e in table.listing()] == [1]
