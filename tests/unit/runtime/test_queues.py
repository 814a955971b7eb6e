"""The queue classifier's translation: OpenFlow flows that pick a queue -> tc u32 filter specs.

The flows are written as ``ovs-ofctl --no-names dump-flows --no-stats`` prints them (OVS 3.1);
offsets count from the IPv4 header, as u32 does on the userspace datapath's egress (Ethernet is
at -14..-1), and queue Q is OVS linux-htb's class 1:(Q+1).
"""

from __future__ import annotations

from sdnlab.runtime.queue_classifier import changes
from sdnlab.runtime.queues import FIRST_PREF, FilterSpec, HtbPort, parse_actions, parse_flows, plan_filters

PORT2 = {2: HtbPort("s1-eth2", 2, frozenset({0, 1, 2}))}
IHL5 = (0, 0x05000000, 0x0F000000)  # no IP options: the transport header is at offset 20
FIRST_FRAGMENT = (4, 0x00000000, 0x00001FFF)


def plan(text: str, ports=PORT2):
    return plan_filters(parse_flows(text), ports)


def test_a_udp_port_flow_becomes_a_u32_filter_into_queue_1s_class():
    result = plan(" priority=10,udp,nw_dst=10.0.0.2,tp_dst=5001 actions=set_queue:1,output:2\n")
    assert result.skipped == ()
    (spec,) = result.filters
    assert (spec.device, spec.classid, spec.protocol, spec.pref) == ("s1-eth2", "1:2", "ip", FIRST_PREF)
    assert spec.keys == (
        IHL5,
        FIRST_FRAGMENT,
        (8, 0x00110000, 0x00FF0000),  # protocol 17
        (16, 0x0A000002, 0xFFFFFFFF),  # destination 10.0.0.2
        (20, 0x00001389, 0x0000FFFF),  # destination port 5001
    )
    assert spec.tc_command() == (
        "filter add dev s1-eth2 parent 1: protocol ip pref 1000 u32 "
        "match u32 0x05000000 0x0f000000 at 0 match u32 0x00000000 0x00001fff at 4 "
        "match u32 0x00110000 0x00ff0000 at 8 match u32 0x0a000002 0xffffffff at 16 "
        "match u32 0x00001389 0x0000ffff at 20 classid 1:2"
    )


def test_dscp_is_matched_in_the_tos_byte_without_the_ecn_bits():
    # OpenFlow's ip_dscp=26 (AF31) is printed by OVS as nw_tos=104
    (spec,) = plan(" priority=20,ip,nw_tos=104 actions=set_queue:2,output:2").filters
    assert spec.classid == "1:3"
    assert spec.keys == ((0, 0x00680000, 0x00FC0000),)


def test_masked_addresses_and_ports_keep_their_masks():
    (spec,) = plan(
        " priority=5,tcp,nw_src=10.0.0.0/24,tp_src=0x1000/0xf000 actions=set_queue:1,output:2"
    ).filters
    assert (12, 0x0A000000, 0xFFFFFF00) in spec.keys
    assert (20, 0x10000000, 0xF0000000) in spec.keys  # source port: the word's upper half


def test_ethernet_addresses_sit_before_the_ip_header():
    (spec,) = plan(" priority=5,dl_dst=00:00:0a:00:00:02 actions=set_queue:1,output:2").filters
    assert spec.protocol == "all"
    assert spec.keys == ((-16, 0x00000000, 0x0000FFFF), (-12, 0x0A000002, 0xFFFFFFFF))


def test_arp_is_matched_by_ethertype_alone():
    (spec,) = plan(" priority=5,arp actions=set_queue:1,output:2").filters
    assert (spec.protocol, spec.keys) == ("0x0806", ())
    assert "match u32 0 0 at 0" in spec.tc_command()


def test_a_rewritten_field_is_matched_at_its_new_value():
    (spec,) = plan(
        " priority=5,ip,nw_dst=10.0.0.9 actions=set_field:10.0.0.2->ip_dst,set_queue:1,output:2"
    ).filters
    assert (16, 0x0A000002, 0xFFFFFFFF) in spec.keys
    (spec,) = plan(" priority=5,ip,nw_tos=0 actions=mod_nw_tos:104,set_queue:1,output:2").filters
    assert spec.keys == ((0, 0x00680000, 0x00FC0000),)


def test_higher_openflow_priority_gets_a_lower_tc_preference():
    result = plan(
        " priority=30,udp,tp_dst=5001 actions=set_queue:2,output:2\n"
        " priority=10,udp actions=set_queue:1,output:2\n"
    )
    by_class = {s.classid: s.pref for s in result.filters}
    assert by_class["1:3"] < by_class["1:2"]


def test_a_flow_without_a_queue_above_a_queue_flow_shadows_it_into_the_default_class():
    result = plan(
        " priority=50,udp,tp_dst=53 actions=output:2\n"
        " priority=10,udp actions=set_queue:1,output:2\n"
        " priority=0 actions=NORMAL\n"  # below every queue flow: no filter needed
    )
    assert [(s.classid, s.pref) for s in result.filters] == [("1:1", FIRST_PREF), ("1:2", FIRST_PREF + 1)]


def test_normal_and_flood_reach_every_queued_port():
    ports = {**PORT2, 3: HtbPort("s1-eth3", 3, frozenset({0, 1}))}
    result = plan(" priority=10,udp actions=set_queue:1,NORMAL", ports)
    assert sorted(s.device for s in result.filters) == ["s1-eth2", "s1-eth3"]


def test_a_queue_chosen_in_table_0_follows_goto_table_to_the_ports_table_1_outputs_to():
    # rest_qos + qos_simple_switch_13: the queue rule in table 0, the switching in table 1
    result = plan(
        " priority=1,udp,nw_dst=10.0.0.2,tp_dst=5002 actions=set_queue:1,goto_table:1\n"
        " priority=0 actions=goto_table:1\n"
        " table=1, priority=1,in_port=1,dl_dst=00:00:0a:00:00:02 actions=output:2\n"
        " table=1, priority=0 actions=CONTROLLER:65535\n"
    )
    (spec,) = result.filters
    assert (spec.device, spec.classid) == ("s1-eth2", "1:2")
    assert (20, 0x0000138A, 0x0000FFFF) in spec.keys


def test_a_later_tables_queue_wins_over_an_earlier_ones():
    result = plan(
        " priority=1,udp actions=set_queue:1,goto_table:1\n"
        " table=1, priority=1,udp,tp_dst=5001 actions=write_actions(set_queue:2,output:2)\n"
    )
    prefs = {s.classid: s.pref for s in result.filters}
    assert prefs["1:3"] < prefs["1:2"]


def test_in_port_cannot_be_seen_at_egress_and_the_flow_is_skipped_with_that_reason():
    result = plan(" priority=10,in_port=1,udp actions=set_queue:1,output:2")
    assert result.filters == ()
    (skipped,) = result.skipped
    assert skipped.reason.startswith("in_port:")


def test_fields_u32_cannot_match_here_are_skipped_not_guessed():
    for flow, reason in (
        ("priority=1,dl_vlan=10 actions=set_queue:1,output:2", "VLAN"),
        ("priority=1,udp6,tp_dst=5001 actions=set_queue:1,output:2", "ethertype 0x86dd"),
        ("priority=1,metadata=0x1 actions=set_queue:1,output:2", "metadata"),
        ("priority=1,tcp,tcp_flags=+syn actions=set_queue:1,output:2", "tcp_flags"),
        ("priority=1,ip actions=push_vlan:0x8100,set_queue:1,output:2", "layout"),
    ):
        result = plan(" " + flow)
        assert result.filters == (), flow
        assert reason in result.skipped[0].reason, (flow, result.skipped)


def test_a_queue_the_port_does_not_have_is_skipped():
    result = plan(" priority=1,udp actions=set_queue:7,output:2")
    assert result.filters == ()
    assert "queue 7 is not configured on s1-eth2" in result.skipped[0].reason


def test_ports_without_htb_and_flows_without_queues_give_nothing():
    assert plan(" priority=1,udp actions=set_queue:1,output:3").filters == ()
    assert plan(" priority=1 actions=NORMAL\n priority=0 actions=drop").filters == ()


def test_enqueue_is_set_queue_and_output_in_one():
    (spec,) = plan(" priority=1,udp actions=enqueue:2:1").filters
    assert spec.classid == "1:2"


def test_action_lists_split_at_top_level_commas_only():
    assert parse_actions("set_queue:1,write_actions(set_field:1->reg0,output:2),goto_table:1") == (
        "set_queue:1",
        "goto_table:1",
        "set_field:1->reg0",
        "output:2",
    )


def test_filters_change_by_preference_group():
    old = FilterSpec("d", 1000, "1:2", "ip", ((0, 1, 1),), "f1")
    new = FilterSpec("d", 1000, "1:3", "ip", ((0, 1, 1),), "f1'")
    keep = FilterSpec("d", 1001, "1:2", "ip", ((0, 2, 2),), "f2")
    lines = changes({"d": [old, keep]}, {"d": [new, keep]})
    assert lines == ["filter del dev d parent 1: pref 1000", new.tc_command()]
    assert changes({"d": [keep]}, {}) == ["filter del dev d parent 1: pref 1001"]
    assert changes({"d": [keep]}, {"d": [keep]}) == []
