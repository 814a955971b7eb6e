"""ryu.app.wsgi websockets on a real local REST server (cheroot), with a real websocket client."""

from __future__ import annotations

import json
import threading
import time

import pytest
import webob
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from ryu.app.wsgi import (
    ControllerBase,
    WebSocketClient,
    WebSocketRPCServer,
    WSGIApplication,
    rpc_public,
    websocket,
)
from sdnlab.controller import websocket as ws_protocol
from sdnlab.controller.rest_server import RestLimits

TOKEN = "unit-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Calculator:
    @rpc_public
    def add(self, a, b):
        return a + b


class Sockets(ControllerBase):
    clients: list = []  # noqa: RUF012 (shared with the test)

    @websocket("rpc", "/rpc")
    def rpc(self, ws):
        WebSocketRPCServer(ws, Calculator()).serve_forever()

    @websocket("push", "/push")
    def push(self, ws):
        client = WebSocketClient(ws, timeout_s=1.0)
        Sockets.clients.append(client)
        client.serve_forever()

    @websocket("echo", "/echo")
    def echo(self, ws):
        while (message := ws.wait()) is not None:
            ws.send(message)


@pytest.fixture
def server():
    Sockets.clients = []
    wsgi = WSGIApplication(start_server=False, token=TOKEN, limits=RestLimits(max_websockets=2))
    wsgi.register(Sockets, {"app": None})
    wsgi.start("127.0.0.1", 0)
    yield wsgi, f"ws://127.0.0.1:{wsgi.address[1]}"
    wsgi.close()


def test_a_client_calls_the_apps_rpc_methods(server):
    _, url = server
    with connect(url + "/rpc", additional_headers=AUTH) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "add", "params": [2, 3]}))
        assert json.loads(ws.recv(timeout=5)) == {"jsonrpc": "2.0", "id": 1, "result": 5}


def test_the_app_calls_a_client_and_a_silent_or_gone_client_raises_oserror(server):
    _, url = server
    with connect(url + "/push", additional_headers=AUTH) as ws:
        deadline = time.monotonic() + 5
        while not Sockets.clients and time.monotonic() < deadline:
            time.sleep(0.05)
        client = Sockets.clients[0]
        answer: dict = {}
        caller = threading.Thread(target=lambda: answer.update(r=client.get_proxy().event_x({"a": 1})))
        caller.start()
        call = json.loads(ws.recv(timeout=5))
        assert call["method"] == "event_x" and call["params"] == [{"a": 1}]
        ws.send(json.dumps({"jsonrpc": "2.0", "id": call["id"], "result": "ok"}))
        caller.join(5)
        assert answer == {"r": "ok"}
        with pytest.raises(TimeoutError):  # the client does not answer this one
            client.get_proxy().event_y({})
    with pytest.raises(OSError):  # and now it has left
        for _ in range(50):
            client.get_proxy().event_z({})
            time.sleep(0.05)


def test_binary_text_and_fragmented_messages_round_trip_and_broadcast_reaches_everyone(server):
    wsgi, url = server
    with (
        connect(url + "/echo", additional_headers=AUTH) as a,
        connect(url + "/echo", additional_headers=AUTH) as b,
    ):
        a.send(b"\x00\x01binary")
        assert a.recv(timeout=5) == b"\x00\x01binary"
        a.send(["frag", "mented", " テキスト"])
        assert a.recv(timeout=5) == "fragmented テキスト"
        wsgi.websocketmanager.broadcast("to all")
        assert a.recv(timeout=5) == "to all" and b.recv(timeout=5) == "to all"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"X-Sdnlab-Token": TOKEN[:-1]}],
    ids=["none", "wrong", "short"],
)
def test_an_upgrade_without_the_token_is_refused_before_the_handshake(server, headers):
    _, url = server
    with pytest.raises(InvalidStatus) as refused:
        connect(url + "/rpc", additional_headers=headers, open_timeout=5)
    assert refused.value.response.status_code == 401


def test_the_token_as_subprotocol_is_accepted_and_selected(server):
    _, url = server
    with connect(url + "/echo", subprotocols=[f"sdnlab.token.{TOKEN}"]) as ws:
        assert ws.subprotocol == f"sdnlab.token.{TOKEN}"
        ws.send("hi")
        assert ws.recv(timeout=5) == "hi"


def connect_when_freed(url: str, within_s: float = 10.0):
    """Connect once the server has seen a closed session go (503 until then; no fixed sleep)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return connect(url, additional_headers=AUTH, open_timeout=5)
        except InvalidStatus as exc:
            if exc.response.status_code != 503 or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_sessions_beyond_the_limit_get_503_and_closing_the_server_ends_sessions(server):
    wsgi, url = server
    with (
        connect(url + "/echo", additional_headers=AUTH) as first,
        connect(url + "/echo", additional_headers=AUTH) as second,
    ):
        with pytest.raises(InvalidStatus) as busy:
            connect(url + "/echo", additional_headers=AUTH, open_timeout=5)
        assert busy.value.response.status_code == 503
        first.close()
        with connect_when_freed(url + "/echo") as third:  # a slot was freed
            third.send("x")
            assert third.recv(timeout=5) == "x"
        wsgi.close()
        with pytest.raises(ConnectionClosed):
            second.recv(timeout=5)


def test_handshake_problems_are_named():
    good = {
        "REQUEST_METHOD": "GET",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "keep-alive, Upgrade",
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
        "HTTP_SEC_WEBSOCKET_KEY": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    assert ws_protocol.handshake_problem(good) is None
    assert dict(ws_protocol.accept_headers(good))["Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert "Version must be 13" in ws_protocol.handshake_problem({**good, "HTTP_SEC_WEBSOCKET_VERSION": "8"})
    assert "Key" in ws_protocol.handshake_problem({**good, "HTTP_SEC_WEBSOCKET_KEY": "short"})
    assert "Connection: upgrade" in ws_protocol.handshake_problem({**good, "HTTP_CONNECTION": "close"})
    assert "GET" in ws_protocol.handshake_problem({**good, "REQUEST_METHOD": "POST"})


def test_a_plain_request_on_a_websocket_path_gets_426_and_wsgiref_cannot_upgrade():
    wsgi = WSGIApplication(start_server=False)
    wsgi.register(Sockets, {"app": None})
    plain = webob.Request.blank("/echo").get_response(wsgi)
    assert plain.status_int == 426 and plain.headers["Upgrade"] == "websocket"
    upgrade = webob.Request.blank(
        "/echo",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    ).get_response(wsgi)  # no cheroot connection to take over
    assert upgrade.status_int == 503 and "cheroot" in upgrade.json["error"]


def test_the_token_in_a_query_opens_only_the_viewer_page_and_a_huge_query_is_no_error():
    wsgi = WSGIApplication(start_server=False, token=TOKEN)
    wsgi.register(Sockets, {"app": None})
    assert webob.Request.blank(f"/?token={TOKEN}").get_response(wsgi).status_int == 404  # let in; no page
    assert webob.Request.blank("/?token=nope").get_response(wsgi).status_int == 401
    crowded = "&".join(f"k{i}=v" for i in range(500)) + f"&token={TOKEN}"
    assert webob.Request.blank(f"/?{crowded}").get_response(wsgi).status_int == 401
    # anything but opening a page needs the token in a header (or the upgrade's subprotocol)
    assert webob.Request.blank(f"/echo?token={TOKEN}").get_response(wsgi).status_int == 401
    posted = webob.Request.blank(f"/?token={TOKEN}", method="POST").get_response(wsgi)
    assert posted.status_int == 401


def test_ryu_4_34s_spelling_of_the_client_imports():
    """Ryu 4.34's ws_topology imports ``WebSocketRPCClient``; it is the same class."""
    from ryu.app.wsgi import WebSocketRPCClient

    assert WebSocketRPCClient is WebSocketClient
