"""ofctl_rest answers 400 naming the field and value for every bad or out-of-range value.

Requests go through the real WSGI app and ``StatsController`` to a recording datapath that
serialises each message exactly as os-ken would put it on the wire and answers barriers, so
a value that slips through the checks shows up as a 500 or as a different rule installed.
"""

import json

import pytest
import webob
from os_ken.ofproto import ofproto_v1_3, ofproto_v1_3_parser

from ryu.app.ofctl_rest import StatsController, SwitchRequests
from ryu.app.wsgi import WSGIApplication

DPID = 1


class RecordingDatapath:
    """Stands in for an os-ken Datapath: serialises what is sent and answers barriers."""

    ofproto = ofproto_v1_3
    ofproto_parser = ofproto_v1_3_parser

    def __init__(self, requests: SwitchRequests) -> None:
        self.id = DPID
        self.xid = 0
        self.sent = []
        self.requests = requests

    def set_xid(self, msg):
        self.xid += 1
        msg.set_xid(self.xid)
        return self.xid

    def send_msg(self, msg):
        msg.serialize()  # raises on a value the wire format cannot carry
        if isinstance(msg, ofproto_v1_3_parser.OFPBarrierRequest):
            self.requests.barrier_reply(self.id, msg.xid)
        elif isinstance(msg, ofproto_v1_3_parser.OFPFlowMod):  # read back what went on the wire
            self.sent.append(
                ofproto_v1_3_parser.msg_parser(
                    None, ofproto_v1_3.OFP_VERSION, msg.msg_type, msg.msg_len, msg.xid, bytes(msg.buf)
                )
            )
        else:  # os-ken has no parser for group/meter mods
            self.sent.append(msg)


class FakeDPSet:
    def __init__(self, dp):
        self.dps = {dp.id: dp}

    def get(self, dpid):
        return self.dps.get(dpid)


@pytest.fixture
def rest():
    requests = SwitchRequests()
    dp = RecordingDatapath(requests)
    wsgi = WSGIApplication(start_server=False)
    wsgi.register(StatsController, {"dpset": FakeDPSet(dp), "requests": requests})

    def post(path, body):
        request = webob.Request.blank(path, method="POST", body=json.dumps(body).encode())
        return request.get_response(wsgi)

    post.dp = dp
    post.wsgi = wsgi
    return post


def flow(**fields):
    return {"dpid": DPID, "match": {}, "actions": [{"type": "OUTPUT", "port": 1}], **fields}


def assert_rejected(response, *words):
    assert response.status_int == 400, (response.status_int, response.text)
    message = response.json["error"]
    for word in words:
        assert word in message, message


@pytest.mark.parametrize(
    "body, words",
    [
        (flow(match={"nw_dst": "10.0.0.999"}), ["match.nw_dst", "10.0.0.999"]),
        (flow(match={"dl_type": 2048, "nw_src": "10.0.0.0/33"}), ["match.nw_src", "10.0.0.0/33"]),
        (flow(match={"dl_dst": "00:00:00:00:00:zz"}), ["match.dl_dst", "00:00:00:00:00:zz"]),
        (flow(match={"dl_type": 2048, "nw_proto": 6, "tp_dst": 99999}), ["match.tp_dst", "99999"]),
        (flow(match={"dl_type": 2048, "nw_proto": 1, "tp_dst": 80}), ["match.tp_dst", "nw_proto"]),
        (flow(match={"dl_type": 70000}), ["match.dl_type", "70000"]),
        (flow(match={"dl_vlan": 5000}), ["match.dl_vlan", "5000"]),
        (flow(match={"vlan_pcp": 8}), ["match.vlan_pcp", "8"]),
        (flow(match={"ip_dscp": 64}), ["match.ip_dscp", "64"]),
        (flow(match={"nw_proto": 256}), ["match.nw_proto", "256"]),
        (flow(match={"mpls_label": 2**20}), ["match.mpls_label"]),
        (flow(match={"metadata": "1/0x1ffffffffffffffff"}), ["match.metadata mask"]),
        (flow(match={"in_port": "xyz"}), ["match.in_port", "'xyz'"]),
        (flow(match={"in_port": -1}), ["match.in_port", "-1"]),
        (flow(match={"ipv6_src": "2001:db8::g"}), ["match.ipv6_src"]),
        (flow(actions=[{"type": "OUTPUT", "port": "abc"}]), ["actions[0].port", "'abc'"]),
        (flow(actions=[{"type": "OUTPUT", "port": 2**32}]), ["actions[0].port", str(2**32)]),
        (flow(actions=[{"type": "OUTPUT", "port": 1, "max_len": 70000}]), ["actions[0].max_len"]),
        (
            flow(actions=[{"type": "SET_FIELD", "field": "ipv4_dst", "value": "1.2.3"}]),
            ["actions[0].value", "1.2.3"],
        ),
        (
            flow(actions=[{"type": "SET_FIELD", "field": "tcp_dst", "value": 65536}]),
            ["actions[0].value", "65536"],
        ),
        (
            flow(actions=[{"type": "SET_FIELD", "field": "nw_dst", "value": "10.0.0.1"}]),
            ["actions[0].field", "ipv4_dst"],
        ),
        (flow(actions=[{"type": "PUSH_VLAN", "ethertype": 65536}]), ["actions[0].ethertype"]),
        (flow(actions=[{"type": "PUSH_VLAN"}]), ["actions[0].ethertype", "needs"]),
        (flow(actions=[{"type": "SET_NW_TTL", "nw_ttl": 256}]), ["actions[0].nw_ttl", "256"]),
        (flow(actions=[{"type": "GROUP", "group_id": "x"}]), ["actions[0].group_id", "'x'"]),
        (flow(actions=[{"type": "GOTO_TABLE", "table_id": 255}]), ["actions[0].table_id", "255"]),
        (flow(actions=[{"type": "WRITE_METADATA", "metadata": -1}]), ["actions[0].metadata", "-1"]),
        (
            flow(actions=[{"type": "WRITE_ACTIONS", "actions": [{"type": "OUTPUT", "port": "q"}]}]),
            ["actions[0].actions[0].port", "'q'"],
        ),
        (flow(actions=[{"type": "COPY_FIELD"}]), ["actions[0].type", "COPY_FIELD"]),
        (flow(actions="OUTPUT:1"), ["actions", "list"]),
        (flow(table_id=300), ["table_id", "300"]),
        (flow(table_id=255), ["table_id", "255"]),
        (flow(priority=65536), ["priority", "65536"]),
        (flow(priority=-1), ["priority", "-1"]),
        (flow(idle_timeout=70000), ["idle_timeout", "70000"]),
        (flow(hard_timeout="soon"), ["hard_timeout", "'soon'"]),
        (flow(cookie=2**64), ["cookie", str(2**64)]),
        (flow(cookie_mask=-5), ["cookie_mask", "-5"]),
        (flow(flags=2**16), ["flags"]),
        (flow(buffer_id="later"), ["buffer_id", "'later'"]),
        (flow(out_port="nowhere"), ["out_port", "'nowhere'"]),
        (flow(match=[1]), ["match", "object"]),
    ],
)
def test_bad_flow_values_are_400_naming_the_field_and_value(rest, body, words):
    assert_rejected(rest("/stats/flowentry/add", body), *words)
    assert rest.dp.sent == []


def test_valid_values_are_installed_exactly_as_given(rest):
    body = flow(
        table_id=3,
        priority=65535,
        idle_timeout=65535,
        cookie="0xffffffffffffffff",
        match={
            "in_port": "LOCAL",
            "dl_type": 2048,
            "nw_proto": 6,
            "tp_dst": 65535,
            "nw_dst": "10.0.0.0/24",
            "dl_vlan": 4095,
            "metadata": "0x1/0xff",
        },
        actions=[
            {"type": "SET_FIELD", "field": "vlan_vid", "value": 4102},
            {"type": "OUTPUT", "port": "CONTROLLER", "max_len": 128},
            {"type": "GOTO_TABLE", "table_id": 254},
        ],
    )
    response = rest("/stats/flowentry/add", body)
    assert response.status_int == 200, response.text
    [mod] = rest.dp.sent
    assert (mod.table_id, mod.priority, mod.idle_timeout, mod.cookie) == (3, 65535, 65535, 2**64 - 1)
    assert mod.match["tcp_dst"] == 65535 and mod.match["in_port"] == ofproto_v1_3.OFPP_LOCAL
    assert mod.match["ipv4_dst"] == ("10.0.0.0", "255.255.255.0")
    assert mod.match["vlan_vid"] == 4095 | ofproto_v1_3.OFPVID_PRESENT
    [apply] = [i for i in mod.instructions if isinstance(i, ofproto_v1_3_parser.OFPInstructionActions)]
    [goto] = [i for i in mod.instructions if isinstance(i, ofproto_v1_3_parser.OFPInstructionGotoTable)]
    assert (apply.actions[1].port, apply.actions[1].max_len) == (ofproto_v1_3.OFPP_CONTROLLER, 128)
    assert goto.table_id == 254


def test_delete_may_name_every_table(rest):
    assert rest("/stats/flowentry/delete", {"dpid": DPID, "table_id": "ALL"}).status_int == 200
    assert rest.dp.sent[0].table_id == ofproto_v1_3.OFPTT_ALL


@pytest.mark.parametrize(
    "body, words",
    [
        ({"dpid": DPID, "meter_id": 1, "bands": "x"}, ["bands", "'x'"]),
        ({"dpid": DPID, "meter_id": 1, "bands": ["x"]}, ["bands[0]", "'x'"]),
        ({"dpid": DPID, "meter_id": 1, "bands": [{"type": "DROP", "rate": 2**32}]}, ["bands[0].rate"]),
        (
            {"dpid": DPID, "meter_id": 1, "bands": [{"type": "DSCP_REMARK", "prec_level": 256}]},
            ["bands[0].prec_level", "256"],
        ),
        ({"dpid": DPID, "meter_id": "abc"}, ["meter_id", "'abc'"]),
        ({"dpid": DPID, "meter_id": 1, "flags": 3}, ["flags", "3"]),
    ],
)
def test_bad_meter_values_are_400(rest, body, words):
    assert_rejected(rest("/stats/meterentry/add", body), *words)


@pytest.mark.parametrize(
    "body, words",
    [
        ({"dpid": DPID, "group_id": 2**32, "buckets": []}, ["group_id"]),
        ({"dpid": DPID, "group_id": 1, "buckets": {"a": 1}}, ["buckets"]),
        (
            {"dpid": DPID, "group_id": 1, "type": "FF", "buckets": [{"watch_port": "up", "actions": []}]},
            ["buckets[0].watch_port", "'up'"],
        ),
        ({"dpid": DPID, "group_id": 1, "buckets": [{"weight": 70000, "actions": []}]}, ["buckets[0].weight"]),
        (
            {"dpid": DPID, "group_id": 1, "buckets": [{"actions": [{"type": "OUTPUT", "port": "p"}]}]},
            ["buckets[0].actions[0].port", "'p'"],
        ),
    ],
)
def test_bad_group_values_are_400(rest, body, words):
    assert_rejected(rest("/stats/groupentry/add", body), *words)


def test_valid_group_and_meter_are_sent(rest):
    group = {
        "dpid": DPID,
        "group_id": 7,
        "type": "FF",
        "buckets": [{"watch_port": 2, "actions": [{"type": "OUTPUT", "port": 2}]}],
    }
    meter = {"dpid": DPID, "meter_id": 3, "flags": ["KBPS"], "bands": [{"type": "DROP", "rate": 1000}]}
    assert rest("/stats/groupentry/add", group).status_int == 200
    assert rest("/stats/meterentry/add", meter).status_int == 200
    assert rest.dp.sent[0].buckets[0].watch_port == 2 and rest.dp.sent[1].bands[0].rate == 1000


@pytest.mark.parametrize(
    "path, words",
    [
        ("/stats/port/1/99999999999", ["port", "99999999999"]),
        ("/stats/port/1/eth0", ["port", "'eth0'"]),
        ("/stats/group/1/-3", ["group_id", "-3"]),
    ],
)
def test_bad_numbers_in_stats_paths_are_400(rest, path, words):
    assert_rejected(webob.Request.blank(path).get_response(rest.wsgi), *words)
