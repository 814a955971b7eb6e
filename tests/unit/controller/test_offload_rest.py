"""POST/GET/DELETE /sdnlab/offload: requests are checked at the edge, answers name the field or the reason."""

import json
import threading
import types

import pytest
import webob
from os_ken.ofproto import ofproto_v1_3_parser
from test_sfc_offload import SUBNET, WEB, fabric

from ryu.app.wsgi import WSGIApplication
from sdnlab.controller.apps.builtin import BuiltinController
from sdnlab.controller.builtin_rest import BuiltinRest
from sdnlab.controller.offload import OffloadTable


class App:
    """What the REST layer needs of the built-in app: the real offload table, nothing sent."""

    def __init__(self):
        self.fabric = fabric()
        self.config = self.fabric.config
        self.lock = threading.RLock()
        self.offloads = OffloadTable()
        self.sent = []
        self.silent = []  # the switches that "do not answer" the barrier

    def offload(self, request):
        touched, msgs = self.offloads.offload(
            request,
            self.config.chains,
            self.fabric.state,
            self.fabric.state.graph(),
            self.fabric.vnf_names,
            100.0,
        )
        self.sent.append(msgs)
        return touched, [dpid for dpid in self.silent if dpid in msgs]

    def clear_offloads(self):
        self.sent.append(self.offloads.clear([1, 2]))
        return list(self.silent)


@pytest.fixture
def api():
    app = App()
    wsgi = WSGIApplication(start_server=False)
    wsgi.register(BuiltinRest, {"builtin": app})

    def call(method, body=None):
        req = webob.Request.blank("/sdnlab/offload", method=method)
        if body is not None:
            req.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        return req.get_response(wsgi)

    call.app = app
    return call


REQUEST = {
    "vnf": "v1",
    "action": "bypass",
    "proto": 6,
    "src": WEB.src,
    "sport": WEB.sport,
    "dst": WEB.dst,
    "dport": WEB.dport,
}


def test_an_offload_is_installed_and_listed(api):
    response = api("POST", REQUEST)
    assert response.status_int == 200, response.json
    (entry,) = response.json["offloads"]
    assert entry["chain"] == "web" and entry["bypassed"] == ["v1"] and entry["rules"] == 2
    assert entry["cookie"].startswith("0x5d1ab5f08")
    assert response.json["confirmed"] is True and response.json["unconfirmed"] == []
    assert sum(len(m) for m in api.app.sent[0].values()) == 2
    assert api("GET").json["offloads"] == [entry]


def test_the_answer_says_which_switches_did_not_confirm(api):
    api.app.silent = [1]
    response = api("POST", REQUEST)
    assert response.status_int == 200  # applied (sent); the switch may still have installed it
    assert response.json["confirmed"] is False and response.json["unconfirmed"] == [1]
    assert api("DELETE").json == {"offloads": [], "confirmed": False, "unconfirmed": [1]}


def test_the_engines_json_line_is_accepted_as_it_is(api):
    """The engine posts the same object it writes to offload.jsonl (with extra keys)."""
    assert api("POST", {**REQUEST, "proto": "tcp", "extra": "ignored"}).status_int == 200


def test_a_rewrite_is_recorded_with_its_nat(api):
    body = {
        **REQUEST,
        "vnf": "v2",
        "src": "10.0.0.3",
        "sport": 5555,
        "dst": "10.0.0.100",
        "dport": 80,
        "action": "rewrite",
        "backend_ip": "10.0.0.2",
        "backend_port": 8080,
        "backend_mac": "00:00:00:00:00:02",
        "vip_mac": "02:00:00:00:00:64",
    }
    response = api("POST", body)
    assert response.status_int == 200, response.json
    (entry,) = response.json["offloads"]
    assert entry["chain"] == "vip" and entry["rewrites"] == {
        "v2": {
            "backend_ip": "10.0.0.2",
            "backend_port": 8080,
            "backend_mac": "00:00:00:00:00:02",
            "vip_mac": "02:00:00:00:00:64",
        }
    }


def test_delete_clears_every_offload(api):
    api("POST", REQUEST)
    assert api("DELETE").json == {"offloads": [], "confirmed": True, "unconfirmed": []}
    assert api("GET").json == {"offloads": []}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sport": None}, "sport: missing"),
        ({"vnf": ""}, "vnf: expected the VNF's host name"),
        ({"proto": 1}, "proto: expected tcp (6) or udp (17), got 1"),
        ({"proto": 6.0}, "proto: expected tcp (6) or udp (17), got 6.0"),
        ({"proto": True}, "proto: expected tcp (6) or udp (17), got True"),
        ({"proto": "icmp"}, "proto: expected tcp (6) or udp (17), got 'icmp'"),
        ({"src": "10.0.0.999"}, "src: expected an IPv4 address, got '10.0.0.999'"),
        ({"dst": 7}, "dst: expected an IPv4 address"),
        ({"dport": 70000}, "dport: 70000 is out of range (0..65535)"),
        ({"sport": "80"}, "sport: expected a port number, got '80'"),
        ({"action": "drop"}, "action: expected one of bypass, rewrite, got 'drop'"),
        ({"action": "rewrite"}, "backend_ip: missing (a rewrite names the backend)"),
        (
            {"action": "rewrite", "backend_ip": "10.0.0.2", "backend_port": 8080, "vip_mac": "02:00"},
            "vip_mac: expected a MAC address like 02:00:00:00:00:01, got '02:00'",
        ),
    ],
)
def test_a_bad_field_is_400_naming_it(api, change, message):
    body = {k: v for k, v in {**REQUEST, **change}.items() if v is not None}
    response = api("POST", body)
    assert response.status_int == 400 and response.json["error"].startswith(message), response.json
    assert api("GET").json == {"offloads": []}
    assert api("POST", REQUEST).json["offloads"][0]["id"] == 1  # the refused request used up no id


@pytest.mark.parametrize("body", [b"", b"{not json", b"[1, 2]"])
def test_a_body_that_is_not_a_json_object_is_400(api, body):
    response = api("POST", body)
    assert response.status_int == 400 and response.json["error"].startswith("body:")


def test_an_unknown_vnf_is_404(api):
    response = api("POST", {**REQUEST, "vnf": "fw9"})
    assert response.status_int == 404 and "fw9" in response.json["error"]


def test_a_flow_outside_the_vnfs_chains_is_409(api):
    response = api("POST", {**REQUEST, "dport": 443})
    assert response.status_int == 409 and "not steered through 'v1'" in response.json["error"]


def test_a_refused_widening_is_409_saying_what_is_missing_and_keeps_the_offload(api):
    api.app.fabric = fabric(chains=[SUBNET])
    api.app.config = api.app.fabric.config
    body = {**REQUEST, "vnf": "v2", "src": "10.0.0.99"}  # in the chain's subnet, but no known host
    assert api("POST", body).status_int == 200
    listed = api("GET").json
    response = api("POST", {**body, "vnf": "v1"})
    assert response.status_int == 409
    assert "source 10.0.0.99 is not a known host" in response.json["error"], response.json
    assert api("GET").json == listed and len(listed["offloads"]) == 1


# -- the app's barrier bookkeeping -------------------------------------------------------------
class Datapath:
    """A switch connection that answers barriers only when told to."""

    ofproto_parser = ofproto_v1_3_parser

    def __init__(self, dpid, answers):
        self.id, self.answers, self.xid, self.app = dpid, answers, 0, None

    def set_xid(self, msg):
        self.xid += 1
        msg.set_xid(self.xid)

    def send_msg(self, msg):
        if self.answers:
            reply = types.SimpleNamespace(msg=types.SimpleNamespace(datapath=self, xid=msg.xid))
            BuiltinController._barrier_reply(self.app, reply)


def test_barrier_waiters_of_switches_that_never_answer_are_dropped():
    app = types.SimpleNamespace(lock=threading.RLock(), barrier_waiters={})
    app.datapaths = {1: Datapath(1, True), 2: Datapath(2, False)}
    for datapath in app.datapaths.values():
        datapath.app = app
    pending = BuiltinController._barriers(app, {1: ["msg"], 2: ["msg"], 3: ["msg"]})  # s3 is not connected
    assert len(pending) == 2 and set(app.barrier_waiters) == {(2, 1)}
    assert BuiltinController._wait(app, pending, timeout=0.05) == [2]
    assert app.barrier_waiters == {}
