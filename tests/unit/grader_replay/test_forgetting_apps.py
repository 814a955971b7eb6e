"""An app that deletes its flows chose to forget: the conversation checks start over on that switch.

stplib apps delete what they learnt at each topology change, so the next packet of a known flow
reaches the controller again and is flooded: that is not a missing flow. The same packet reaching
the controller twice without a deletion in between still is. Messages are real OpenFlow 1.3 bytes
(os-ken's serialisers, the fake switch's packet-in).
"""

from __future__ import annotations

from types import SimpleNamespace

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from sdnlab.controller.fakeswitch import packet_in_msg
from sdnlab.grader.replay.grade import _with_waits, conversation_checks, forget_epochs
from sdnlab.grader.replay.pcapng import TO_CONTROLLER, TO_SWITCH, OFRecord
from sdnlab.grader.replay.sim import icmp_frame

H1 = ("00:00:0a:00:00:01", "10.0.0.1")
H2 = ("00:00:0a:00:00:02", "10.0.0.2")
DATAPATH = SimpleNamespace(ofproto=ofp, ofproto_parser=parser, id=1)


def _bytes(msg) -> bytes:
    msg.serialize()
    return bytes(msg.buf)


def _record(direction: str, data: bytes, dpid: int = 1) -> OFRecord:
    return OFRecord(time=0.0, switch=("127.0.0.1", 40000 + dpid), direction=direction, data=data, dpid=dpid)


def ping_in(seq: int, dpid: int = 1) -> OFRecord:
    return _record(TO_CONTROLLER, packet_in_msg(seq, 1, icmp_frame(8, *H1, *H2, ident=7, seq=seq)), dpid)


def flood_out(dpid: int = 1) -> OFRecord:
    msg = parser.OFPPacketOut(
        DATAPATH, buffer_id=ofp.OFP_NO_BUFFER, in_port=1,
        actions=[parser.OFPActionOutput(ofp.OFPP_FLOOD)], data=icmp_frame(8, *H1, *H2, ident=7, seq=1),
    )  # fmt: skip
    return _record(TO_SWITCH, _bytes(msg), dpid)


def delete_learnt(dpid: int = 1) -> OFRecord:
    msg = parser.OFPFlowMod(
        DATAPATH, command=ofp.OFPFC_DELETE, out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY,
        match=parser.OFPMatch(eth_dst=H2[0]),
    )  # fmt: skip
    return _record(TO_SWITCH, _bytes(msg), dpid)


def failed(records: list[OFRecord]) -> set[str]:
    return {c.id for c in conversation_checks(records, 0, 3) if not c.passed}


def test_a_repeated_ping_the_app_already_saw_is_a_missing_flow():
    records = [ping_in(1), flood_out(), ping_in(2), flood_out()]
    assert "flows-before-second-packet" in failed(records)


def test_after_the_app_deleted_its_flows_the_first_packet_may_reach_it_again():
    records = [ping_in(1), flood_out(), delete_learnt(), ping_in(2), flood_out()]
    assert forget_epochs(records)[id(records[3])] == 1
    assert "flows-before-second-packet" not in failed(records)


def test_a_deletion_on_another_switch_forgives_nothing_here():
    records = [ping_in(1), flood_out(), delete_learnt(dpid=2), ping_in(2), flood_out()]
    assert forget_epochs(records)[id(records[3])] == 0
    assert "flows-before-second-packet" in failed(records)


def test_a_packet_in_storm_counts_per_switch_since_its_last_deletion():
    storm = [r for seq in range(1, 5) for r in (ping_in(seq), flood_out())]
    assert "no-packet-in-storm" in failed(storm)
    forgetful = [r for seq in range(1, 5) for r in (ping_in(seq), flood_out(), delete_learnt())]
    assert "no-packet-in-storm" not in failed(forgetful)


def test_the_default_scenarios_wait_for_the_apps_timers_again_after_a_reconnect():
    settle = {"settle": {"stable_s": 10, "timeout_s": 90}}
    scenarios = _with_waits(
        {"reconnect": ["pingall", {"reconnect": "first"}, "pingall"]}, [settle, "pingall"]
    )
    assert scenarios == {"reconnect": [settle, "pingall", {"reconnect": "first"}, settle, "pingall"]}
