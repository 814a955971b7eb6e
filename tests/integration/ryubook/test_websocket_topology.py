"""Ryu websockets (``ryu.app.wsgi``): topology events pushed to clients, RPC calls from clients.

On a real three-switch Mininet lab, the controller runs ``ryu.app.ws_topology`` and a
ws_topology-style app of our own (apps/topology_rpc.py) with link discovery. A websocket client
with the lab's token hears ``event_switch_enter`` and ``event_link_add`` when a switch
reconnects (and answers each call, as Ryu's clients do); an RPC call from a client round-trips;
clients without the token, or with a wrong one, are refused with 401 before any upgrade.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from sdnlab.controller import rest_client
from sdnlab.runtime import api, paths

pytestmark = pytest.mark.network

APPS = Path(__file__).parent / "apps"
LAB = "t-rb-ws"


@pytest.fixture(scope="module")
def lab():
    state = api.up(
        "linear",
        {"switches": 3},
        name=LAB,
        controller=f"app:ryu.app.ws_topology,{APPS / 'topology_rpc.py'}",
        observe_links=True,
    )
    try:
        # `up` returns once the switches' TCP connections are up; the OpenFlow handshakes and
        # link discovery are still running. The tests start from a fully discovered line.
        wait_until(state, "get_links", lambda links: links == [[1, 2], [2, 1], [2, 3], [3, 2]], timeout=30)
        yield state
    finally:
        api.down(LAB)


def ws_url(state: dict, path: str) -> str:
    return f"ws://127.0.0.1:{state['controller']['rest_port']}{path}"


def token_headers() -> dict[str, str]:
    return rest_client.auth_headers(paths.lab_dir(LAB))


class NotificationListener:
    """A ws_topology client: records each call it receives and answers it with an empty result."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.calls: queue.Queue[dict] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            for raw in self.ws:
                call = json.loads(raw)
                self.calls.put(call)
                self.ws.send(json.dumps({"jsonrpc": "2.0", "id": call["id"], "result": ""}))
        except Exception:
            return

    def wait_for(self, predicate, timeout: float) -> list[dict]:
        """Calls received until ``predicate(calls)`` holds (AssertionError after ``timeout``)."""
        seen: list[dict] = []
        deadline = time.monotonic() + timeout
        while not predicate(seen):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"after {timeout} s the client got only {seen}")
            try:
                seen.append(self.calls.get(timeout=remaining))
            except queue.Empty:
                continue
        return seen


def rpc(state: dict, method: str):
    """The result of ``method()`` called on the test app over ``/rpc/ws``."""
    with connect(ws_url(state, "/rpc/ws"), additional_headers=token_headers(), open_timeout=10) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": []}))
        return json.loads(ws.recv(timeout=10))["result"]


def wait_until(state: dict, method: str, holds, timeout: float) -> None:
    """Poll ``method()`` until ``holds(answer)`` (AssertionError with the last answer after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not holds(answer := rpc(state, method)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{method}() still answered {answer} after {timeout} s")
        time.sleep(0.1)


def reconnect_switch(state: dict, switch: str) -> None:
    bridge = next(s["bridge"] for s in state["switches"] if s["name"] == switch)
    target = subprocess.run(
        ["ovs-vsctl", "get-controller", bridge], capture_output=True, text=True, check=True
    ).stdout.split()
    subprocess.run(["ovs-vsctl", "del-controller", bridge], check=True)
    # until the controller has seen the switch leave, a new connection is a second one from the
    # same switch (os-ken reports EventSwitchReconnected, not EventSwitchEnter)
    dpid = next(int(s["dpid"]) for s in state["switches"] if s["name"] == switch)
    wait_until(state, "get_switches", lambda dpids: dpid not in dpids, timeout=30)
    subprocess.run(["ovs-vsctl", "set-controller", bridge, *target], check=True)


def test_a_client_hears_switch_enter_and_link_add_when_a_switch_reconnects(lab):
    # (the fixture waited for every link: a switch that leaves while only the links towards it
    # are known keeps them in os-ken, as in Ryu, since a leaving port deletes its own links and
    # their reverses only; they would never be added again)
    clients_before = rpc(lab, "topology_clients")
    with connect(ws_url(lab, "/v1.0/topology/ws"), additional_headers=token_headers()) as ws:
        listener = NotificationListener(ws)
        # the handshake is answered before the app registers the client, which hears nothing until then
        wait_until(lab, "topology_clients", lambda count: count > clients_before, timeout=10)
        reconnect_switch(lab, "s2")

        def entered_and_linked(calls: list[dict]) -> bool:
            entered = [c for c in calls if c["method"] == "event_switch_enter"]
            links = {
                (int(c["params"][0]["src"]["dpid"], 16), int(c["params"][0]["dst"]["dpid"], 16))
                for c in calls
                if c["method"] == "event_link_add"
            }
            return bool(entered) and {(1, 2), (2, 1), (2, 3), (3, 2)} <= links

        calls = listener.wait_for(entered_and_linked, timeout=30)
    entered = [c["params"][0] for c in calls if c["method"] == "event_switch_enter"]
    assert entered[0]["dpid"] == "0000000000000002"
    assert {p["port_no"] for p in entered[0]["ports"]} >= {"00000002", "00000003"}
    assert all(c["jsonrpc"] == "2.0" and "id" in c for c in calls)


def test_a_client_calls_the_app_over_json_rpc(lab):
    with connect(ws_url(lab, "/rpc/ws"), additional_headers=token_headers()) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 7, "method": "get_switches", "params": []}))
        assert json.loads(ws.recv(timeout=10)) == {"jsonrpc": "2.0", "id": 7, "result": [1, 2, 3]}
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 8, "method": "echo", "params": ["こんにちは"]}))
        assert json.loads(ws.recv(timeout=10))["result"] == "こんにちは"
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 9, "method": "shutdown", "params": []}))
        assert json.loads(ws.recv(timeout=10))["error"]["code"] == -32601  # method not found


def test_a_browser_style_client_sends_the_token_as_its_subprotocol(lab):
    token = rest_client.read_token(paths.lab_dir(LAB))
    with connect(ws_url(lab, "/rpc/ws"), subprotocols=[f"sdnlab.token.{token}"]) as ws:
        assert ws.subprotocol == f"sdnlab.token.{token}"
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "echo", "params": ["ok"]}))
        assert json.loads(ws.recv(timeout=10))["result"] == "ok"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-lab-token-at-all"}])
def test_a_client_without_the_labs_token_is_refused(lab, headers):
    for path in ("/v1.0/topology/ws", "/rpc/ws"):
        with pytest.raises(InvalidStatus) as refused:
            connect(ws_url(lab, path), additional_headers=headers, open_timeout=10)
        assert refused.value.response.status_code == 401


def test_a_plain_get_on_a_websocket_resource_is_told_to_upgrade(lab):
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{lab['controller']['rest_port']}/rpc/ws"
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(urllib.request.Request(url, headers=token_headers()), timeout=5)
    assert answer.value.code == 426
    assert "websocket" in json.loads(answer.value.read())["error"]
