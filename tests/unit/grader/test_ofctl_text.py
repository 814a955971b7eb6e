"""Parsing real ``ovs-ofctl -O OpenFlow13`` output (captured from OVS 3.1) into typed flow state."""

from pathlib import Path

import pytest

from sdnlab.grader.errors import FlowParseError
from sdnlab.grader.fields import FIELDS, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL
from sdnlab.grader.model import GroupAction, Output, PopVlan, PushVlan, SetField
from sdnlab.grader.ofctl_text import parse_flow_line, parse_flows, parse_groups, parse_ports

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def flows():
    return parse_flows((DATA / "ovs31_dump_flows.txt").read_text(), "dump.txt")


def test_every_line_of_a_real_dump_becomes_a_flow(flows):
    assert len(flows) == 15
    assert [f.line for f in flows][:2] == [2, 3]


def test_omitted_priority_is_the_default_32768(flows):
    assert flows[-3].priority == 32768 and flows[-3].table_id == 3


def test_shorthand_prefix_and_port_match(flows):
    tcp = flows[2].match
    assert tcp.get("eth_type").value == 0x0800 and tcp.get("ip_proto").value == 6
    assert tcp.get("ipv4_src").value == 0x0A000000 and tcp.get("ipv4_src").mask == 0xFF000000
    assert tcp.get("in_port").value == 1 and tcp.get("tp_dst").value == 80


def test_set_field_push_vlan_and_goto_are_kept_in_order(flows):
    f = flows[2]
    assert f.apply_actions[0] == SetField("ipv4_dst", 0x0A000009, 0xFFFFFFFF)
    assert isinstance(f.apply_actions[2], PushVlan)
    assert f.apply_actions[3] == SetField("vlan_vid", 5, 0xFFF)
    assert f.goto_table == 1


def test_reserved_ports_parse_to_openflow13_numbers(flows):
    assert flows[3].apply_actions == (Output(2), Output(OFPP_IN_PORT))
    assert flows[6].apply_actions == (Output(OFPP_CONTROLLER, 65535), Output(OFPP_FLOOD))
    assert flows[8].apply_actions == (Output(OFPP_LOCAL),)


def test_instructions_write_actions_metadata_meter_and_clear(flows):
    assert flows[4].write_actions == (Output(3),) and flows[4].write_metadata == (5, 0xFF)
    assert flows[8].meter_id == 1 and flows[8].clear_actions and flows[8].cookie == 0x1234


def test_vlan_tci_mask_means_tag_present_or_absent(flows):
    absent, present = flows[8].match.get("vlan_vid"), flows[9].match.get("vlan_vid")
    assert (absent.value, absent.mask) == (0, 0x1FFF)
    assert (present.value, present.mask) == (0x1000, 0x1000)


def test_dl_vlan_and_udp_shorthand(flows):
    m = flows[5].match
    assert m.get("vlan_vid").value == 0x1007 and m.get("ip_proto").value == 17
    assert flows[5].apply_actions[0] == PopVlan() and flows[5].apply_actions[-1] == GroupAction(1)


def test_nw_tos_is_stored_as_dscp():
    flow = parse_flow_line("priority=1,icmp,nw_tos=184 actions=mod_nw_tos:32,output:1")
    assert flow.match.get("ip_dscp").value == 46
    assert flow.apply_actions[0] == SetField("ip_dscp", 8, 0x3F)


def test_groups_of_every_type(flows):
    groups = parse_groups((DATA / "ovs31_dump_groups.txt").read_text())
    assert {g.type for g in groups.values()} == {"select", "all", "ff", "indirect"}
    assert groups[1].buckets[0].weight == 5 and groups[1].buckets[1].actions == (Output(2),)
    assert groups[2].buckets[1].watch_port == 2
    assert groups[3].buckets[1].actions[0] == SetField("ipv4_src", 0x01020304, 0xFFFFFFFF)


def test_ports_desc_gives_liveness():
    ports = parse_ports((DATA / "ovs31_dump_ports_desc.txt").read_text())
    assert ports[1].live and not ports[2].live and OFPP_LOCAL in ports


def test_error_names_the_line_and_the_problem():
    text = "priority=1,ip actions=output:1\npriority=2,ip,nw_srcc=1.2.3.4 actions=drop\n"
    with pytest.raises(FlowParseError, match=r"flows.txt:2: unknown field 'nw_srcc'"):
        parse_flows(text, "flows.txt")


def test_unsupported_action_is_an_error_not_a_silent_drop():
    with pytest.raises(FlowParseError, match=r"x:1: unsupported action 'ct\(commit\)'"):
        parse_flows("priority=1,ip actions=ct(commit),output:2", "x")


def test_missing_actions_is_reported():
    with pytest.raises(FlowParseError, match="no actions= part"):
        parse_flows("priority=1,ip", "x")


def test_masked_values_and_contradictions():
    flow = parse_flow_line("tcp,tp_dst=0x50/0xfff0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=drop")
    assert flow.match.get("tp_dst").mask == 0xFFF0
    assert flow.match.get("eth_dst").mask == 1 << 40
    # a field given twice keeps the later value, as ovs-ofctl does (it installs this rule as ipv6)
    assert parse_flow_line("ip,dl_type=0x86dd actions=drop").match.get("eth_type").value == 0x86DD
    assert FIELDS["tp_dst"].width == 16
