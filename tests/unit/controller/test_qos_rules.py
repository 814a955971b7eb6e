"""rest_qos's rules and meters: the book's bodies become the right flows; bad ones name their field."""

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from sdnlab.controller import qos_rules
from sdnlab.controller.ofctl_values import BadRequest


def serialised(msg):
    """Put the message on the wire and read it back, as the switch would see it."""
    msg.datapath = type("DP", (), {"ofproto": ofp, "ofproto_parser": parser})()
    msg.set_xid(1)
    msg.serialize()
    if isinstance(msg, parser.OFPFlowMod):
        return parser.msg_parser(None, ofp.OFP_VERSION, msg.msg_type, msg.msg_len, 1, bytes(msg.buf))
    return msg


def test_the_books_per_flow_rule_queues_udp_to_port_5002_and_goes_on_to_table_1():
    rule = qos_rules.SwitchQos().add(
        qos_rules.parse_rule(
            {"match": {"nw_dst": "10.0.0.1", "nw_proto": "UDP", "tp_dst": "5002"}, "actions": {"queue": "1"}}
        )
    )
    flow = serialised(qos_rules.rule_flow(rule))
    assert (flow.table_id, flow.priority, flow.cookie) == (0, 1, 1)
    assert dict(flow.match.items()) == {
        "eth_type": 0x0800,
        "ip_proto": 17,
        "ipv4_dst": "10.0.0.1",
        "udp_dst": 5002,
    }
    apply, goto = flow.instructions
    assert [type(a) for a in apply.actions] == [parser.OFPActionSetQueue]
    assert apply.actions[0].queue_id == 1
    assert goto.table_id == 1
    assert qos_rules.rule_reply(rule) == {
        "priority": 1,
        "dl_type": "IPv4",
        "nw_dst": "10.0.0.1",
        "nw_proto": "UDP",
        "tp_dst": 5002,
        "actions": [{"queue": "1"}],
        "qos_id": 1,
    }


def test_a_mark_rule_sets_the_dscp_and_implies_ipv4():
    rule = qos_rules.SwitchQos().add(
        qos_rules.parse_rule({"match": {"in_port": "2"}, "actions": {"mark": "26"}})
    )
    flow = serialised(qos_rules.rule_flow(rule))
    assert dict(flow.match.items()) == {"in_port": 2, "eth_type": 0x0800}
    assert flow.instructions[0].actions[0].key == "ip_dscp"
    assert flow.instructions[0].actions[0].value == 26


def test_a_meter_rule_meters_before_it_goes_on():
    rule = qos_rules.SwitchQos().add(
        qos_rules.parse_rule({"match": {"ip_dscp": "10"}, "actions": {"meter": "1"}})
    )
    flow = serialised(qos_rules.rule_flow(rule))
    assert dict(flow.match.items()) == {"eth_type": 0x0800, "ip_dscp": 10}
    meter, goto = flow.instructions
    assert isinstance(meter, parser.OFPInstructionMeter) and meter.meter_id == 1
    assert goto.table_id == 1


def test_a_vlan_rule_matches_the_tagged_vid_and_a_network_keeps_its_mask():
    rule = qos_rules.parse_rule({"match": {"nw_src": "10.0.0.7/24"}, "actions": {"queue": 2}}, vlan_id=100)
    oxm = qos_rules.rule_oxm(qos_rules.SwitchQos().add(rule))
    assert oxm["vlan_vid"] == ofp.OFPVID_PRESENT | 100
    assert oxm["ipv4_src"] == ("10.0.0.0", "255.255.255.0")
    assert qos_rules.rule_reply(rule)["nw_src"] == "10.0.0.0/24"


def test_arp_addresses_become_arp_fields():
    rule = qos_rules.parse_rule({"match": {"dl_type": "ARP", "nw_dst": "10.0.0.1"}, "actions": {"queue": 1}})
    assert qos_rules.rule_oxm(rule) == {"eth_type": 0x0806, "arp_tpa": "10.0.0.1"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"match": {"tp_dst": "5002"}, "actions": {"queue": "1"}},
            "match.tp_dst: needs match.nw_proto TCP or UDP",
        ),
        (
            {"match": {"nw_dst": "10.0.0.999"}, "actions": {"queue": "1"}},
            "match.nw_dst: invalid IPv4 address",
        ),
        (
            {"match": {"ip_dscp": "64"}, "actions": {"queue": "1"}},
            "match.ip_dscp: '64' is out of range (0..63)",
        ),
        ({"match": {"nw_proto": "SCTP"}, "actions": {"queue": "1"}}, "match.nw_proto: expected TCP, UDP"),
        (
            {"match": {"tp_dst": 99999, "nw_proto": "TCP"}, "actions": {"queue": 1}},
            "match.tp_dst: 99999 is out",
        ),
        ({"match": {"nw_dst": "10.0.0.1"}}, "actions: missing"),
        (
            {"match": {"nw_dst": "10.0.0.1"}, "actions": {}},
            "actions: expected at least one of mark, meter, queue",
        ),
        ({"match": {"nw_dst": "10.0.0.1"}, "actions": {"drop": 1}}, "actions.drop: unknown key"),
        ({"match": {"ip_dscp": 1}, "actions": {"mark": "64"}}, "actions.mark: '64' is out of range (0..63)"),
        ({"match": {"ip_dscp": 1}, "actions": {"meter": "0"}}, "actions.meter: '0' is out of range"),
        ({"match": {"ip_dscp": 1}, "actions": {"queue": "x"}}, "actions.queue: expected an integer, got 'x'"),
        (
            {"match": {"dl_type": "ARP", "ip_dscp": 1}, "actions": {"queue": 1}},
            "match.ip_dscp: not an ARP field",
        ),
        ({"match": {"dl_type": "ARP"}, "actions": {"mark": 1}}, "actions.mark: sets the IP DSCP"),
        (
            {"match": {"ipv6_dst": "10.0.0.1"}, "actions": {"queue": 1}},
            "match.ipv6_dst: expected an IPv6 address",
        ),
        ({"match": {"dl_src": "00:00:00:00:00:0g"}, "actions": {"queue": 1}}, "match.dl_src: invalid MAC"),
        ({"match": {"nw_dst": "10.0.0.1", "port": 1}, "actions": {"queue": 1}}, "match.port: unknown key"),
        ({"match": [], "actions": {"queue": 1}}, "match: expected a JSON object"),
        ({"priority": 70000, "actions": {"queue": 1}}, "priority: 70000 is out of range (0..65535)"),
        ({"priority": 0, "actions": {"queue": 1}}, "priority: 0 with an empty match"),
        ({"qos_id": 1, "actions": {"queue": 1}}, "qos_id: unknown key"),
    ],
)
def test_a_bad_rule_is_refused_naming_its_field(body, message):
    with pytest.raises(
        BadRequest, match="^" + message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
    ):
        qos_rules.parse_rule(body)


def test_rules_are_numbered_per_switch_and_a_repeat_is_refused():
    switch = qos_rules.SwitchQos()
    first = switch.add(qos_rules.parse_rule({"match": {"ip_dscp": 26}, "actions": {"queue": 1}}))
    second = switch.add(qos_rules.parse_rule({"match": {"ip_dscp": 34}, "actions": {"queue": 2}}))
    assert (first.qos_id, second.qos_id) == (1, 2)
    with pytest.raises(BadRequest, match="rule qos_id=1 already has this match and priority"):
        switch.add(qos_rules.parse_rule({"match": {"ip_dscp": "26"}, "actions": {"queue": 3}}))
    assert [rule.qos_id for rule in switch.remove(None, None)] == [1, 2]
    assert switch.add(qos_rules.parse_rule({"match": {"ip_dscp": 26}, "actions": {"queue": 1}})).qos_id == 3


def test_rules_are_shown_per_vlan():
    switch = qos_rules.SwitchQos()
    switch.add(qos_rules.parse_rule({"match": {"ip_dscp": 26}, "actions": {"queue": 1}}))
    switch.add(qos_rules.parse_rule({"match": {"ip_dscp": 26}, "actions": {"queue": 1}}, vlan_id=10))
    everything = qos_rules.rules_reply(switch.select(None), None)
    assert [sorted(group) for group in everything] == [["qos"], ["qos", "vlan_id"]]
    assert everything[1]["vlan_id"] == 10 and everything[1]["qos"][0]["qos_id"] == 2
    assert qos_rules.rules_reply(switch.select(20), 20) == [{"vlan_id": 20, "qos": []}]
    assert [rule.qos_id for rule in switch.remove(None, "all")] == [2]


def test_a_rejoining_switch_gets_a_clean_table_its_meters_and_its_rules():
    switch = qos_rules.SwitchQos()
    switch.meters[1] = qos_rules.parse_meter({"meter_id": 1, "bands": [{"type": "DROP", "rate": 400}]})
    rule = switch.add(qos_rules.parse_rule({"match": {"ip_dscp": 10}, "actions": {"meter": 1}}))
    switch.waiting.add(rule.qos_id)
    messages = switch.rejoin_messages()
    kinds = [(qos_id, type(msg).__name__, getattr(msg, "command", None)) for qos_id, msg in messages]
    assert kinds == [
        (0, "OFPFlowMod", ofp.OFPFC_DELETE),
        (0, "OFPMeterMod", ofp.OFPMC_DELETE),
        (0, "OFPMeterMod", ofp.OFPMC_ADD),
        (0, "OFPFlowMod", ofp.OFPFC_ADD),
        (1, "OFPFlowMod", ofp.OFPFC_ADD),
    ]
    assert not switch.waiting  # tried again; the switch's answer decides


def test_a_removed_meter_makes_its_rules_wait():
    switch = qos_rules.SwitchQos()
    rule = switch.add(qos_rules.parse_rule({"match": {"ip_dscp": 10}, "actions": {"meter": 3}}))
    switch.meter_removed(3)
    assert switch.waiting == {rule.qos_id}


def test_the_books_meter_becomes_a_meter_mod():
    meter = qos_rules.parse_meter(
        {
            "meter_id": "1",
            "flags": "KBPS",
            "bands": [{"type": "DSCP_REMARK", "rate": "400", "prec_level": "1"}],
        }
    )
    mod = serialised(qos_rules.meter_mod(meter))
    assert (mod.meter_id, mod.flags) == (1, ofp.OFPMF_KBPS)
    assert isinstance(mod.bands[0], parser.OFPMeterBandDscpRemark)
    assert (mod.bands[0].rate, mod.bands[0].prec_level) == (400, 1)
    drop = qos_rules.parse_meter(
        {"meter_id": 2, "flags": ["KBPS", "BURST"], "bands": [{"action": "DROP", "rate": 1}]}
    )
    assert drop.flags == ("KBPS", "BURST") and drop.bands[0].type == "DROP"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"bands": [{"type": "DROP", "rate": 1}]}, "meter_id: missing"),
        ({"meter_id": 0, "bands": [{"type": "DROP", "rate": 1}]}, "meter_id: 0 is out of range"),
        ({"meter_id": 1, "bands": []}, "bands: expected a list of at least one band"),
        ({"meter_id": 1, "bands": [{"type": "DROP"}]}, "bands[0].rate: missing"),
        ({"meter_id": 1, "bands": [{"type": "FOO", "rate": 1}]}, "bands[0].type: expected DROP, DSCP_REMARK"),
        (
            {"meter_id": 1, "bands": [{"type": "DROP", "rate": 1, "prec_level": 1}]},
            "bands[0].prec_level: only",
        ),
        (
            {"meter_id": 1, "bands": [{"type": "DROP", "rate": 1, "flags": "KBPS"}]},
            "bands[0].flags: flags belong",
        ),
        ({"meter_id": 1, "flags": "FAST", "bands": [{"type": "DROP", "rate": 1}]}, "flags: expected KBPS"),
        (
            {"meter_id": 1, "flags": ["KBPS", "PKTPS"], "bands": [{"type": "DROP", "rate": 1}]},
            "flags: KBPS and",
        ),
    ],
)
def test_a_bad_meter_is_refused_naming_its_field(body, message):
    with pytest.raises(BadRequest) as refused:
        qos_rules.parse_meter(body)
    assert str(refused.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "expected"), [("all", None), ("0000000000000001", 1), ("00000000000000aB", 0xAB)]
)
def test_switch_ids_are_all_or_sixteen_hex_digits(text, expected):
    assert qos_rules.parse_switch_id(text) == expected


@pytest.mark.parametrize("text", ["1", "0x1", "000000000000000g", ""])
def test_other_switch_ids_are_refused(text):
    with pytest.raises(BadRequest, match="switch_id: expected 'all' or 16 hex digits"):
        qos_rules.parse_switch_id(text)


def test_vlan_path_elements():
    assert qos_rules.parse_vlan("100", allow_all=False) == 100
    assert qos_rules.parse_vlan("all", allow_all=True) == "all"
    for text, allow_all, message in (
        ("all", False, "vlan: 'all' applies"),
        ("5000", True, "vlan: '5000' is out"),
        ("x", True, "vlan: expected a VLAN id"),
    ):
        with pytest.raises(BadRequest, match=message):
            qos_rules.parse_vlan(text, allow_all)


def test_delete_bodies_name_a_rule_or_all():
    assert qos_rules.parse_qos_id({"qos_id": "all"}) is None
    assert qos_rules.parse_qos_id({"qos_id": "3"}) == 3
    assert qos_rules.parse_qos_id({"rule_id": 4}) == 4  # the book's REST API list calls it rule_id
    with pytest.raises(BadRequest, match="qos_id: missing"):
        qos_rules.parse_qos_id({})
