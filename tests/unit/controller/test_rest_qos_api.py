"""rest_qos and rest_conf_switch through their real WSGI layer, with a switch that records messages.

The switch serialises what it is sent (as on the wire), answers barriers, and refuses a flow that
names a meter it does not have (as Open vSwitch does: OFPMMFC_INVALID_METER), so the book's order
(rule first, meter after) and every 400/404 can be checked without a network. OVSDB paths are
covered live in tests/integration/ryubook/test_rest_qos.py.
"""

import json

import pytest
import webob
from os_ken.controller import conf_switch
from os_ken.ofproto import ofproto_v1_3, ofproto_v1_3_parser

from ryu.app.rest_conf_switch import ConfSwitchController
from ryu.app.rest_qos import RestQoSAPI
from ryu.app.wsgi import WSGIApplication

SWITCH = "0000000000000001"


class Error:
    """The bits of an OFPErrorMsg event rest_qos reads."""

    def __init__(self, dp, xid, code):
        self.msg = type(
            "Msg", (), {"datapath": dp, "xid": xid, "type": ofproto_v1_3.OFPET_METER_MOD_FAILED, "code": code}
        )()


class RecordingSwitch:
    ofproto = ofproto_v1_3
    ofproto_parser = ofproto_v1_3_parser

    def __init__(self, app: RestQoSAPI) -> None:
        self.id = 1
        self.xid = 0
        self.app = app
        self.meters: set[int] = set()
        self.flows: dict[int, object] = {}  # cookie -> table-0 flow
        self.ports: dict = {}

    def set_xid(self, msg):
        self.xid += 1
        msg.set_xid(self.xid)
        return self.xid

    def send_msg(self, msg):
        msg.serialize()
        if isinstance(msg, ofproto_v1_3_parser.OFPBarrierRequest):
            self.app.requests.barrier_reply(self.id, msg.xid)
        elif isinstance(msg, ofproto_v1_3_parser.OFPMeterMod):
            if msg.command == ofproto_v1_3.OFPMC_ADD and msg.meter_id in self.meters:
                self.app._error(Error(self, msg.xid, ofproto_v1_3.OFPMMFC_METER_EXISTS))
            elif msg.command == ofproto_v1_3.OFPMC_DELETE:
                self.meters.discard(msg.meter_id)
                self.flows = {c: f for c, f in self.flows.items() if _meter_of(f) != msg.meter_id}
            else:
                self.meters.add(msg.meter_id)
        elif isinstance(msg, ofproto_v1_3_parser.OFPFlowMod):
            meter = _meter_of(msg)
            if meter is not None and meter not in self.meters:
                self.app._error(Error(self, msg.xid, ofproto_v1_3.OFPMMFC_INVALID_METER))
            elif msg.command == ofproto_v1_3.OFPFC_ADD and msg.cookie:
                self.flows[msg.cookie] = msg
            elif msg.command == ofproto_v1_3.OFPFC_DELETE and msg.cookie_mask:
                self.flows.pop(msg.cookie, None)


def _meter_of(flow):
    for inst in flow.instructions:
        if isinstance(inst, ofproto_v1_3_parser.OFPInstructionMeter):
            return inst.meter_id
    return None


class FakeDPSet:
    def __init__(self):
        self.dps = {}

    def get(self, dpid):
        return self.dps.get(dpid)


@pytest.fixture
def api():
    wsgi = WSGIApplication(start_server=False)
    conf = conf_switch.ConfSwitchSet()
    dpset = FakeDPSet()
    app = RestQoSAPI(dpset=dpset, conf_switch=conf, wsgi=wsgi)
    wsgi.register(ConfSwitchController, {"conf_switch": conf})
    switch = RecordingSwitch(app)
    dpset.dps[1] = switch
    app._switch_changed(type("EventDP", (), {"dp": switch, "enter": True})())

    def call(method, path, body=None):
        raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
        response = webob.Request.blank(path, method=method, body=raw).get_response(wsgi)
        assert response.status_code != 500, response.text
        return response.status_code, (response.json if response.body else None)

    call.switch = switch
    return call


def test_the_books_rule_and_meter_in_the_books_order(api):
    status, reply = api(
        "POST", f"/qos/rules/{SWITCH}", {"match": {"ip_dscp": "10"}, "actions": {"meter": "1"}}
    )
    assert status == 200
    details = reply[0]["command_result"][0]["details"]
    assert details.startswith("QoS added. : qos_id=1 (waits for meter 1")
    assert api.switch.flows == {}  # the switch has no meter 1 yet
    meter = {"meter_id": "1", "flags": "KBPS", "bands": [{"type": "DROP", "rate": "400"}]}
    assert api("POST", f"/qos/meter/{SWITCH}", meter) == (
        200,
        [
            {
                "switch_id": SWITCH,
                "command_result": [{"result": "success", "details": "Meter added. : Meter ID=1"}],
            }
        ],
    )
    assert list(api.switch.flows) == [1]  # now installed
    assert api("POST", f"/qos/meter/{SWITCH}", meter)[1][0]["command_result"][0]["details"] == (
        "Meter modified. : Meter ID=1"
    )
    api("DELETE", f"/qos/meter/{SWITCH}", {"meter_id": 1})
    assert api.switch.flows == {}
    assert api("GET", f"/qos/rules/{SWITCH}")[1][0]["command_result"][0]["qos"][0]["qos_id"] == 1
    assert api("DELETE", f"/qos/rules/{SWITCH}", {"qos_id": "all"})[1][0]["command_result"] == [
        {"result": "success", "details": "QoS deleted. : qos_id=1"}
    ]


def test_rules_on_all_switches_and_per_vlan(api):
    status, reply = api(
        "POST", "/qos/rules/all/100", {"match": {"nw_dst": "10.0.0.1"}, "actions": {"mark": "26"}}
    )
    assert status == 200
    assert reply == [
        {
            "switch_id": SWITCH,
            "command_result": [{"vlan_id": 100, "result": "success", "details": "QoS added. : qos_id=1"}],
        }
    ]
    assert api("GET", "/qos/rules/all/100")[1][0]["command_result"][0]["qos"] == [
        {"priority": 1, "dl_type": "IPv4", "nw_dst": "10.0.0.1", "actions": [{"mark": "26"}], "qos_id": 1}
    ]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", f"/qos/rules/{SWITCH}", b"{bad", 400, "body: malformed JSON"),
        (
            "POST",
            f"/qos/rules/{SWITCH}",
            {"match": {"tp_dst": 1}, "actions": {"queue": 1}},
            400,
            "match.tp_dst",
        ),
        ("POST", "/qos/rules/1", {"actions": {"queue": 1}}, 400, "switch_id: expected 'all' or 16 hex"),
        ("POST", "/qos/rules/0000000000000009", {"actions": {"queue": 1}}, 404, "switch_id: no QoS switch"),
        ("POST", f"/qos/rules/{SWITCH}/all", {"actions": {"queue": 1}}, 400, "vlan: 'all' applies"),
        ("DELETE", f"/qos/rules/{SWITCH}", {}, 400, "qos_id: missing"),
        (
            "DELETE",
            f"/qos/rules/{SWITCH}",
            {"qos_id": 7},
            404,
            "qos_id: switch 0000000000000001 has no rule 7",
        ),
        ("POST", f"/qos/meter/{SWITCH}", {"meter_id": 1}, 400, "bands: expected a list"),
        (
            "POST",
            f"/qos/queue/{SWITCH}",
            {"queues": [{"max_rate": "x"}]},
            400,
            "queues[0].max_rate: expected",
        ),
        (
            "POST",
            f"/qos/queue/{SWITCH}",
            {"queues": []},
            400,
            "ovsdb_addr: not set for switch 0000000000000001",
        ),
        ("DELETE", f"/qos/queue/{SWITCH}", {"port": "x"}, 400, "port: unknown key"),
        ("GET", f"/qos/queue/{SWITCH}", None, 400, "ovsdb_addr: not set"),
        ("PUT", f"/v1.0/conf/switches/{SWITCH}/ovsdb_addr", b"tcp:127.0.0.1:6632", 400, "body: not JSON"),
        (
            "PUT",
            f"/v1.0/conf/switches/{SWITCH}/ovsdb_addr",
            b'"tcp:1.2.3"',
            400,
            "ovsdb_addr: expected an OVSDB",
        ),
        (
            "PUT",
            "/v1.0/conf/switches/1/ovsdb_addr",
            b'"tcp:127.0.0.1:6632"',
            400,
            "dpid: expected 16 hex digits",
        ),
        ("GET", f"/v1.0/conf/switches/{SWITCH}", None, 404, "dpid: no settings for switch"),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_problem(api, method, path, body, status, message):
    got, reply = api(method, path, body)
    assert got == status
    assert reply["error"].startswith(message), reply


def test_conf_switch_keeps_the_ovsdb_address_the_book_puts(api):
    path = f"/v1.0/conf/switches/{SWITCH}/ovsdb_addr"
    assert api("PUT", path, b'"tcp:127.0.0.1:6632"') == (200, None)
    assert api("GET", "/v1.0/conf/switches") == (200, [SWITCH])
    assert api("GET", f"/v1.0/conf/switches/{SWITCH}") == (200, ["ovsdb_addr"])
    assert api("GET", path) == (200, "tcp:127.0.0.1:6632")
    assert api("DELETE", path) == (200, None)
    assert api("GET", path)[0] == 404
