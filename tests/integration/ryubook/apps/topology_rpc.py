"""A Ryu app in the ws_topology style whose websocket clients call it: JSON-RPC over ``/rpc/ws``.

Methods: ``get_switches()`` (the connected dpids, from the topology API), ``get_links()`` (the
discovered links as ``[src dpid, dst dpid]`` pairs), ``topology_clients()`` (how many websocket
clients ``ryu.app.ws_topology`` has registered) and ``echo(text)``.
"""

from ryu.app.wsgi import ControllerBase, WebSocketRPCServer, WSGIApplication, rpc_public, websocket
from ryu.base import app_manager
from ryu.topology.api import get_link, get_switch


class TopologyRpc:
    """What a client may call."""

    def __init__(self, app):
        self.app = app

    @rpc_public
    def get_switches(self):
        return sorted(s.dp.id for s in get_switch(self.app, None))

    @rpc_public
    def get_links(self):
        return sorted([link.src.dpid, link.dst.dpid] for link in get_link(self.app, None))

    @rpc_public
    def topology_clients(self):
        ws_topology = app_manager.lookup_service_brick("WebSocketTopology")
        return len(ws_topology.rpc_clients) if ws_topology else 0

    @rpc_public
    def echo(self, text):
        return text


class TopologyRpcApp(app_manager.RyuApp):
    _CONTEXTS = {"wsgi": WSGIApplication}  # noqa: RUF012 (a Ryu app's class attribute, as trainees write it)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kwargs["wsgi"].register(TopologyRpcController, {"app": self})


class TopologyRpcController(ControllerBase):
    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data["app"]

    @websocket("topology_rpc", "/rpc/ws")
    def _rpc(self, ws):
        WebSocketRPCServer(ws, TopologyRpc(self.app)).serve_forever()
