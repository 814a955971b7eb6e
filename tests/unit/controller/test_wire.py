"""The hand-encoded hot-path messages are byte-for-byte what os-ken would send."""

import pytest
from os_ken.ofproto import ofproto_v1_3
from os_ken.ofproto.ofproto_protocol import ProtocolDesc

from sdnlab.controller import ofmsg, wire
from sdnlab.controller.l2 import LearningSwitch, PacketIn
from sdnlab.controller.pipeline import COOKIE_BUILTIN, FORWARD, PRIORITY_L2

A, B = "00:00:00:00:00:0a", "02:00:00:00:12:fb"


def serialized(msg, xid):
    msg.datapath = ProtocolDesc(ofproto_v1_3.OFP_VERSION)
    msg.set_xid(xid)
    msg.serialize()
    return bytes(msg.buf)


@pytest.mark.parametrize("out_port, idle", [(2, 60), (0xFFFFFF00, 0), (7, 65535)])
def test_flow_mod_matches_os_ken(out_port, idle):
    expected = ofmsg.flow_add(
        FORWARD.table_id,
        PRIORITY_L2,
        ofmsg.match(eth_dst=B),
        [ofmsg.apply_actions([ofmsg.output(out_port)])],
        idle_timeout=idle,
        cookie=COOKIE_BUILTIN,
    )
    assert wire.flow_mod_to_port(
        9, FORWARD.table_id, PRIORITY_L2, B, out_port, idle, COOKIE_BUILTIN
    ) == serialized(expected, 9)


def test_packet_out_matches_os_ken():
    data = bytes(range(60))
    assert wire.packet_out(5, 3, 2, data) == serialized(ofmsg.packet_out(3, [ofmsg.output(2)], data), 5)


def test_the_learning_switch_decision_agrees_with_its_messages():
    switch = LearningSwitch()
    switch.packet_in(0.0, PacketIn(1, 2, B, A, b"\0" * 60))
    pkt = PacketIn(1, 1, A, B, b"\0" * 60)
    assert switch.decide(0.0, pkt) == 2
    assert ofmsg.output_ports(switch.packet_in(0.0, pkt)[0]) == [2]
