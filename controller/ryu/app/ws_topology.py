"""Ryu's ``ws_topology``: topology changes pushed to websocket clients as JSON-RPC calls.

A client connects to ``ws://HOST:PORT/v1.0/topology/ws`` (with the lab's token) and receives
requests ``event_switch_enter``, ``event_switch_leave``, ``event_link_add``,
``event_link_delete`` and ``event_host_add``, each with one parameter: the switch, link or host
as ``rest_topology`` shows it. The client answers each request (any result); a client that
leaves or stays silent for the reply timeout is dropped. Links need link discovery
(``sdnlab up --observe-links`` or ``ryu-manager --observe-links``).
"""

from __future__ import annotations

import threading
from typing import ClassVar

from os_ken.base import app_manager
from os_ken.controller.handler import set_ev_cls
from os_ken.topology import api as topology_api  # noqa: F401 (loads os-ken's switches app)
from os_ken.topology import event
from tinyrpc.exc import InvalidReplyError

from ryu.app.wsgi import ControllerBase, WebSocketClient, WSGIApplication, websocket

WS_PATH = "/v1.0/topology/ws"


class WebSocketTopology(app_manager.OSKenApp):
    """Keeps the connected clients and calls each one when the topology changes."""

    _CONTEXTS: ClassVar[dict[str, type]] = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rpc_clients: list[WebSocketClient] = []
        self._clients_lock = threading.Lock()
        kwargs["wsgi"].register(WebSocketTopologyController, {"app": self})

    def add_client(self, client: WebSocketClient) -> None:
        with self._clients_lock:
            self.rpc_clients.append(client)

    @set_ev_cls(event.EventSwitchEnter)
    def _switch_enter(self, ev):
        self._broadcall("event_switch_enter", ev.switch.to_dict())

    @set_ev_cls(event.EventSwitchLeave)
    def _switch_leave(self, ev):
        self._broadcall("event_switch_leave", ev.switch.to_dict())

    @set_ev_cls(event.EventLinkAdd)
    def _link_add(self, ev):
        self._broadcall("event_link_add", ev.link.to_dict())

    @set_ev_cls(event.EventLinkDelete)
    def _link_delete(self, ev):
        self._broadcall("event_link_delete", ev.link.to_dict())

    @set_ev_cls(event.EventHostAdd)
    def _host_add(self, ev):
        self._broadcall("event_host_add", ev.host.to_dict())

    def _broadcall(self, method: str, params: dict) -> None:
        """Call ``method(params)`` on every client; drop the ones that are gone or silent."""
        with self._clients_lock:
            clients = list(self.rpc_clients)
        gone = []
        for client in clients:
            try:
                getattr(client.get_proxy(), method)(params)
            except OSError:  # left, or no reply within the timeout
                self.logger.debug("websocket client dropped: %s", client.ws)
                gone.append(client)
            except InvalidReplyError as exc:
                self.logger.error("websocket client answered %s with an invalid reply: %s", method, exc)
        if gone:
            with self._clients_lock:
                self.rpc_clients = [c for c in self.rpc_clients if c not in gone]


class WebSocketTopologyController(ControllerBase):
    """The websocket resource."""

    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data["app"]

    @websocket("topology", WS_PATH)
    def _websocket_handler(self, ws):
        client = WebSocketClient(ws)
        self.app.add_client(client)
        client.serve_forever()
