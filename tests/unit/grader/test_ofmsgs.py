"""``FlowTables.from_ofmsgs``: controller unit tests ask the pipeline model where a packet goes."""

from __future__ import annotations

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from sdnlab.grader import FlowTables
from sdnlab.grader.errors import FlowParseError
from sdnlab.grader.fields import OFPP_CONTROLLER


def flow(match, actions=(), priority=10, table_id=0, command=ofp.OFPFC_ADD, goto=None, write=()):
    inst = []
    if actions:
        inst.append(parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, list(actions)))
    if write:
        inst.append(parser.OFPInstructionActions(ofp.OFPIT_WRITE_ACTIONS, list(write)))
    if goto is not None:
        inst.append(parser.OFPInstructionGotoTable(goto))
    return parser.OFPFlowMod(
        datapath=None, table_id=table_id, command=command, priority=priority, match=match, instructions=inst,
        out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
    )  # fmt: skip


def out(port):
    return parser.OFPActionOutput(port)


WEB = "in_port=1,tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_dst=80"


def test_h1_to_h2_tcp_80_leaves_on_port_3():
    msgs = [
        flow(parser.OFPMatch(), [out(ofp.OFPP_CONTROLLER)], priority=0),
        flow(parser.OFPMatch(eth_type=0x0800, ipv4_dst="10.0.0.2"), [out(2)]),
        flow(parser.OFPMatch(eth_type=0x0800, ip_proto=6, tcp_dst=80), [out(3)], priority=20),
    ]
    tables = FlowTables.from_ofmsgs(msgs)
    assert tables.forwards(WEB) == {3}
    assert tables.forwards("in_port=1,icmp,nw_dst=10.0.0.2") == {2}
    assert tables.forwards("in_port=1,udp,nw_dst=10.0.0.9") == {OFPP_CONTROLLER}


def test_masks_set_field_goto_and_write_actions():
    msgs = [
        flow(
            parser.OFPMatch(eth_type=0x0800, ipv4_dst=("10.0.0.0", "255.255.255.0")),
            [parser.OFPActionSetField(ipv4_dst="10.0.1.5")],
            goto=1,
        ),
        flow(parser.OFPMatch(eth_type=0x0800, ipv4_dst="10.0.1.5"), write=[out(4)], table_id=1),
    ]
    result = FlowTables.from_ofmsgs(msgs).trace("in_port=1,ip,nw_dst=10.0.0.7")
    assert [o["port"] for o in result["outputs"]] == [4]
    assert result["outputs"][0]["fields"]["nw_dst"] == "10.0.1.5"


def test_groups_and_fast_failover():
    group = parser.OFPGroupMod(
        None, ofp.OFPGC_ADD, ofp.OFPGT_FF, 7,
        [
            parser.OFPBucket(watch_port=2, watch_group=ofp.OFPG_ANY, actions=[out(2)]),
            parser.OFPBucket(watch_port=3, watch_group=ofp.OFPG_ANY, actions=[out(3)]),
        ],
    )  # fmt: skip
    msgs = [group, flow(parser.OFPMatch(in_port=1), [parser.OFPActionGroup(7)])]
    tables = FlowTables.from_ofmsgs(msgs, ports=(1, 2, 3))
    assert tables.forwards("in_port=1,ip") == {2}


def test_later_messages_replace_and_delete_rules():
    match = parser.OFPMatch(eth_type=0x0800, ipv4_dst="10.0.0.2")
    msgs = [flow(match, [out(2)]), flow(match, [out(5)])]
    assert FlowTables.from_ofmsgs(msgs).forwards("in_port=1,ip,nw_dst=10.0.0.2") == {5}
    deleted = [*msgs, flow(parser.OFPMatch(eth_type=2048), command=ofp.OFPFC_DELETE, table_id=ofp.OFPTT_ALL)]
    assert FlowTables.from_ofmsgs(deleted).forwards("in_port=1,ip,nw_dst=10.0.0.2") == frozenset()
    strict_miss = [*msgs, flow(parser.OFPMatch(eth_type=2048), command=ofp.OFPFC_DELETE_STRICT)]
    assert len(FlowTables.from_ofmsgs(strict_miss).flows) == 1


def test_flood_reaches_every_port_but_the_ingress():
    tables = FlowTables.from_ofmsgs([flow(parser.OFPMatch(), [out(ofp.OFPP_FLOOD)])], ports=(1, 2, 3, 4))
    assert tables.forwards("in_port=2,arp") == {1, 3, 4}


def test_other_messages_are_ignored_and_unmodelled_actions_say_so():
    packet_out = parser.OFPPacketOut(None, buffer_id=0xFFFFFFFF, in_port=1, actions=[out(2)], data=b"")
    assert FlowTables.from_ofmsgs([packet_out]).flows == []
    with pytest.raises(FlowParseError, match="OFPActionExperimenter"):
        FlowTables.from_ofmsgs([flow(parser.OFPMatch(), [parser.OFPActionExperimenter(1)])])
