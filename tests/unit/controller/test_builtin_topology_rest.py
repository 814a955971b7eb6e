"""The built-in app serves Ryu's /v1.0/topology/switches|links|hosts from its own network view."""

import threading
from types import SimpleNamespace

import pytest
import webob
from os_ken.ofproto import ofproto_v1_3, ofproto_v1_3_parser

from ryu.app.wsgi import WSGIApplication
from sdnlab.controller.builtin_rest import BuiltinRest
from sdnlab.controller.network import DiscoveredNetwork


def ofp_port(port_no, name):
    return ofproto_v1_3_parser.OFPPort(
        port_no, f"00:00:00:00:{port_no:02x}:{len(name):02x}", name.encode(), 0, 0, 0, 0, 0, 0, 0, 0
    )


def datapath(dpid, *port_nos):
    ports = {n: ofp_port(n, f"s{dpid}-eth{n}") for n in port_nos}
    ports[ofproto_v1_3.OFPP_LOCAL] = ofp_port(ofproto_v1_3.OFPP_LOCAL, f"s{dpid}")
    return SimpleNamespace(id=dpid, ofproto=ofproto_v1_3, ports=ports)


@pytest.fixture
def get():
    """Two switches s1-s2 linked on port 2, host h1 behind s1 port 1 (a linear lab)."""
    state = DiscoveredNetwork()
    state.switch_up(1, {1, 2})
    state.switch_up(2, {1, 2})
    state.add_link((1, 2), (2, 2))
    state.learn_host("00:00:00:00:00:01", 1, 1, "10.0.0.1")
    app = SimpleNamespace(
        fabric=SimpleNamespace(state=state),
        lock=threading.RLock(),
        datapaths={1: datapath(1, 1, 2), 2: datapath(2, 1, 2)},
    )
    wsgi = WSGIApplication(start_server=False)
    wsgi.register(BuiltinRest, {"builtin": app})
    return lambda path: webob.Request.blank(path).get_response(wsgi)


def test_switches_are_listed_with_their_ports_as_in_ryu(get):
    response = get("/v1.0/topology/switches")
    assert response.status_int == 200
    assert [s["dpid"] for s in response.json] == ["0000000000000001", "0000000000000002"]
    assert response.json[0]["ports"][1] == {
        "dpid": "0000000000000001",
        "port_no": "00000002",
        "hw_addr": "00:00:00:00:02:07",
        "name": "s1-eth2",
    }
    assert len(response.json[0]["ports"]) == 2  # the LOCAL port is not listed, as in Ryu
    assert [s["dpid"] for s in get("/v1.0/topology/switches/0000000000000002").json] == ["0000000000000002"]


def test_links_are_listed_once_per_direction(get):
    links = get("/v1.0/topology/links").json
    assert {(k["src"]["dpid"][-1], k["src"]["port_no"], k["dst"]["dpid"][-1]) for k in links} == {
        ("1", "00000002", "2"),
        ("2", "00000002", "1"),
    }
    assert [k["dst"]["name"] for k in get("/v1.0/topology/links/0000000000000001").json] == ["s2-eth2"]


def test_hosts_carry_their_address_and_port(get):
    [host] = get("/v1.0/topology/hosts").json
    assert host["mac"] == "00:00:00:00:00:01" and host["ipv4"] == ["10.0.0.1"]
    assert host["port"]["name"] == "s1-eth1"
    assert get("/v1.0/topology/hosts/0000000000000002").json == []


@pytest.mark.parametrize("path", ["/v1.0/topology/switches/1", "/v1.0/topology/hosts/xyz"])
def test_a_dpid_that_is_not_16_hex_digits_is_400(get, path):
    response = get(path)
    assert response.status_int == 400 and "16 hex digits" in response.json["error"]
