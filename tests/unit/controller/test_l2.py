"""L2 learning: flood unknown destinations, install a flow once the destination is known."""

from oftable import FakeTable

from sdnlab.controller import ofmsg
from sdnlab.controller.l2 import LearningSwitch, PacketIn, table_miss_flows
from sdnlab.controller.pipeline import FORWARD, check_flow

A, B = "00:00:00:00:00:0a", "00:00:00:00:00:0b"
BROADCAST = "ff:ff:ff:ff:ff:ff"


def pkt(src, dst, in_port, dpid=1):
    return PacketIn(dpid, in_port, src, dst, b"\0" * 60)


def test_table_miss_sends_to_controller_and_fits_the_pipeline():
    ingress, forward = table_miss_flows()
    assert ofmsg.output_ports(forward) == [ofmsg.OFPP_CONTROLLER]
    for flow in (ingress, forward):
        check_flow(flow)


def test_unknown_destination_is_flooded():
    switch = LearningSwitch()
    (out,) = switch.packet_in(0.0, pkt(A, B, 1))
    assert ofmsg.output_ports(out) == [ofmsg.OFPP_FLOOD]


def test_known_destination_gets_a_flow_with_idle_timeout_and_the_packet():
    switch = LearningSwitch(idle_timeout=30)
    table = FakeTable()
    table.apply(switch.datapath_up(1))
    assert table.forward(1, eth_src=A, eth_dst=B) == {"CONTROLLER"}  # nothing learned yet
    table.apply(switch.packet_in(0.0, pkt(B, A, 2)))
    msgs = switch.packet_in(1.0, pkt(A, B, 1))
    table.apply(msgs)
    assert table.forward(1, eth_src=A, eth_dst=B) == {2}  # the switch now forwards on its own
    assert table.forward(3, eth_src=A, eth_dst="00:00:00:00:00:0c") == {"CONTROLLER"}
    flow, packet_out = msgs
    assert flow.idle_timeout == 30 and ofmsg.output_ports(packet_out) == [2]
    check_flow(flow)


def test_a_reconnecting_switch_starts_from_a_clean_table():
    switch = LearningSwitch()
    table = FakeTable()
    table.apply(switch.datapath_up(1))
    table.apply(switch.packet_in(0.0, pkt(B, A, 2)))
    table.apply(switch.packet_in(0.0, pkt(A, B, 1)))
    assert table.forward(1, eth_src=A, eth_dst=B) == {2}
    table.apply(switch.datapath_up(1))
    assert table.forward(1, eth_src=A, eth_dst=B) == {"CONTROLLER"}


def test_broadcast_is_flooded_even_when_learned_addresses_exist():
    switch = LearningSwitch()
    switch.packet_in(0.0, pkt(B, A, 2))
    (out,) = switch.packet_in(0.0, pkt(A, BROADCAST, 1))
    assert ofmsg.output_ports(out) == [ofmsg.OFPP_FLOOD]


def test_learned_addresses_expire_with_the_idle_timeout():
    switch = LearningSwitch(idle_timeout=10)
    switch.packet_in(0.0, pkt(B, A, 2))
    assert switch.port_of(5.0, 1, B) == 2
    assert switch.port_of(11.0, 1, B) is None


def test_a_reconnecting_switch_forgets_and_gets_fresh_flows():
    switch = LearningSwitch()
    switch.packet_in(0.0, pkt(B, A, 2))
    msgs = switch.datapath_up(1)
    assert switch.port_of(0.0, 1, B) is None
    assert any(ofmsg.is_flow_add(m) for m in msgs)


def test_the_pipeline_rejects_a_flow_that_matches_a_field_its_table_does_not_declare():
    import pytest

    bad = ofmsg.flow_add(FORWARD.table_id, 100, ofmsg.match(eth_dst=B, tcp_dst=80), [])
    with pytest.raises(AssertionError, match="does not match on"):
        check_flow(bad)
    jump = ofmsg.flow_add(FORWARD.table_id, 100, ofmsg.match(), [ofmsg.goto(0)])
    with pytest.raises(AssertionError, match="may not go to table 0"):
        check_flow(jump)
