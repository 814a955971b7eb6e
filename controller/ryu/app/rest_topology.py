"""Ryu's ``rest_topology``: ``GET /v1.0/topology/switches|links|hosts[/<dpid>]`` as JSON.

Data comes from os-ken's topology service (``ryu.topology.api``); links need ``--observe-links``.
A dpid in the path is 16 hex digits, as in Ryu.
"""

from __future__ import annotations

from typing import ClassVar

from os_ken.base import app_manager
from os_ken.topology.api import get_host, get_link, get_switch

from ryu.app.wsgi import ControllerBase, WSGIApplication, json_error, json_response, route
from sdnlab.controller.rest_input import hex_dpid


class TopologyController(ControllerBase):
    """The ``/v1.0/topology`` resources."""

    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.topology_api_app = data["topology_api_app"]

    def _list(self, getter, dpid):
        value = None if dpid is None else hex_dpid(dpid)
        if dpid is not None and value is None:
            return json_error(400, f"dpid: expected 16 hex digits, got {dpid!r}")
        return json_response([item.to_dict() for item in getter(self.topology_api_app, value)])

    @route("topology", "/v1.0/topology/switches", methods=["GET"])
    def list_switches(self, req, **_kwargs):
        return self._list(get_switch, None)

    @route("topology", "/v1.0/topology/switches/{dpid}", methods=["GET"])
    def get_switch(self, req, dpid, **_kwargs):
        return self._list(get_switch, dpid)

    @route("topology", "/v1.0/topology/links", methods=["GET"])
    def list_links(self, req, **_kwargs):
        return self._list(get_link, None)

    @route("topology", "/v1.0/topology/links/{dpid}", methods=["GET"])
    def get_links(self, req, dpid, **_kwargs):
        return self._list(get_link, dpid)

    @route("topology", "/v1.0/topology/hosts", methods=["GET"])
    def list_hosts(self, req, **_kwargs):
        return self._list(get_host, None)

    @route("topology", "/v1.0/topology/hosts/{dpid}", methods=["GET"])
    def get_hosts(self, req, dpid, **_kwargs):
        return self._list(get_host, dpid)


class TopologyAPI(app_manager.OSKenApp):
    """Registers the topology REST resources."""

    _CONTEXTS: ClassVar[dict[str, type]] = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kwargs["wsgi"].register(TopologyController, {"topology_api_app": self})
