"""REST endpoints of the built-in app: ``/sdnlab/...`` and Ryu's ``/v1.0/topology/...``.

See docs/controller.md.
"""

from __future__ import annotations

from os_ken.lib import ofctl_v1_3

from ryu.app.wsgi import ControllerBase, json_error, json_response, route
from sdnlab.controller import topology_view
from sdnlab.controller.offload import Conflict, parse_offload_request
from sdnlab.controller.quarantine import parse_quarantine_request
from sdnlab.controller.rest_handlers import error_replies
from sdnlab.controller.rest_input import NotFound, hex_dpid, parse_body
from sdnlab.controller.routing import path_between
from sdnlab.controller.topology_view import PortDesc

rest_errors = error_replies((Conflict, 409))


def host_dict(host, state) -> dict:
    return {
        "mac": host.mac,
        "ip": host.ip,
        "dpid": host.dpid,
        "port_no": host.port_no,
        "name": host.name,
        "switch": state.names.get(host.dpid),
    }


def port_descs(datapaths: dict) -> dict[int, dict[int, PortDesc]]:
    """``{dpid: {port_no: PortDesc}}`` from the port descriptions os-ken fetched for each switch."""
    result = {}
    for dpid, datapath in datapaths.items():
        ofp = datapath.ofproto
        ports = {}
        for port in (getattr(datapath, "ports", None) or {}).values():
            if port.port_no > ofp.OFPP_MAX:
                continue
            name = port.name.decode("utf-8", "replace") if isinstance(port.name, bytes) else str(port.name)
            ports[port.port_no] = PortDesc(dpid, port.port_no, str(port.hw_addr), name.rstrip("\0"))
        result[dpid] = ports
    return result


def confirmation(unconfirmed: list[int]) -> dict:
    """Whether every switch sent the changes confirmed them (barrier) in time, and which did not (dpids)."""
    return {"confirmed": not unconfirmed, "unconfirmed": sorted(unconfirmed)}


class BuiltinRest(ControllerBase):
    """``/sdnlab/status``, ``hosts``, ``path``, ``stats``, ``chains``, ``quarantine`` and ``offload``."""

    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data["builtin"]

    @property
    def state(self):
        return self.app.fabric.state

    @route("sdnlab", "/sdnlab/status", methods=["GET"])
    def status(self, req, **_kwargs):
        with self.app.lock:
            links = sorted({tuple(sorted((a, b))) for a, b in self.state.links.items()})
            return json_response(
                {
                    "switches": sorted(self.app.datapaths),
                    "links": [
                        {
                            "src": {"dpid": a[0], "port_no": a[1]},
                            "dst": {"dpid": b[0], "port_no": b[1]},
                            "live": self.state.live(a) and self.state.live(b),
                        }
                        for a, b in links
                    ],
                    "hosts": [host_dict(h, self.state) for h in self.state.hosts.values()],
                    "config": self.app.config.to_dict(),
                }
            )

    @route("sdnlab", "/sdnlab/hosts", methods=["GET"])
    def hosts(self, req, **_kwargs):
        with self.app.lock:
            return json_response([host_dict(h, self.state) for h in self.state.hosts.values()])

    @route("sdnlab", "/sdnlab/path/{src}/{dst}", methods=["GET"])
    def path(self, req, src, dst, **_kwargs):
        with self.app.lock:
            a, b = self.state.host_by(src), self.state.host_by(dst)
            if a is None or b is None:
                return json_error(404, f"unknown host {src if a is None else dst!r}")
            graph = self.state.graph(self.app.config.weight)
            try:
                dpids = path_between(graph, a, b)
            except Exception:
                return json_error(404, f"no path from {src} to {dst}")
            return json_response(
                {
                    "src": host_dict(a, self.state),
                    "dst": host_dict(b, self.state),
                    "path": dpids,
                    "switches": [self.state.names.get(d) for d in dpids],
                }
            )

    @route("sdnlab", "/sdnlab/stats/ports", methods=["GET"])
    def port_stats(self, req, **_kwargs):
        rows = []
        for dpid, body in sorted(self.app.port_stats.items()):
            for stat in body:
                rows.append(
                    {
                        "dpid": dpid,
                        "port_no": stat.port_no,
                        "rx_packets": stat.rx_packets,
                        "tx_packets": stat.tx_packets,
                        "rx_bytes": stat.rx_bytes,
                        "tx_bytes": stat.tx_bytes,
                        "rx_dropped": stat.rx_dropped,
                        "tx_dropped": stat.tx_dropped,
                        "rx_errors": stat.rx_errors,
                        "tx_errors": stat.tx_errors,
                    }
                )
        return json_response(rows)

    @route("sdnlab", "/sdnlab/stats/flows", methods=["GET"])
    def flow_stats(self, req, **_kwargs):
        result = {}
        for dpid, body in sorted(self.app.flow_stats.items()):
            result[str(dpid)] = [
                {
                    "table_id": s.table_id,
                    "priority": s.priority,
                    "cookie": s.cookie,
                    "packet_count": s.packet_count,
                    "byte_count": s.byte_count,
                    "match": ofctl_v1_3.match_to_str(s.match),
                    "actions": ofctl_v1_3.actions_to_str(s.instructions),
                }
                for s in body
            ]
        return json_response(result)

    @route("sdnlab", "/sdnlab/chains", methods=["GET"])
    def chains(self, req, **_kwargs):
        return json_response(self.app.config.to_dict()["chains"])

    @route("sdnlab", "/sdnlab/quarantine", methods=["GET"])
    def quarantine_list(self, req, **_kwargs):
        with self.app.lock:
            return json_response({"quarantined": self.app.fabric.quarantine_list()})

    @route("sdnlab", "/sdnlab/quarantine", methods=["POST"])
    @rest_errors
    def quarantine_add(self, req, **_kwargs):
        request = parse_quarantine_request(parse_body(req.body))
        if request.kind == "host" and self.state.host_by(request.value) is None:
            raise NotFound(f"host: unknown host {request.value!r}")
        entry = self.app.quarantine(request.value, request.reason)
        return json_response({"mac": entry.mac, "ip": entry.ip, "reason": entry.reason})

    @route("sdnlab", "/sdnlab/quarantine/{key}", methods=["DELETE"])
    def quarantine_release(self, req, key, **_kwargs):
        entry = self.app.release(key)
        if entry is None:
            return json_error(404, f"{key!r} is not quarantined")
        return json_response({"mac": entry.mac, "ip": entry.ip, "reason": entry.reason})

    @route("sdnlab", "/sdnlab/offload", methods=["GET"])
    def offload_list(self, req, **_kwargs):
        with self.app.lock:
            return json_response({"offloads": self.app.offloads.listing()})

    @route("sdnlab", "/sdnlab/offload", methods=["POST"])
    @rest_errors
    def offload_add(self, req, **_kwargs):
        request = parse_offload_request(parse_body(req.body))
        touched, unconfirmed = self.app.offload(request)
        return json_response(
            {"offloads": [entry.to_dict() for entry in touched], **confirmation(unconfirmed)}
        )

    @route("sdnlab", "/sdnlab/offload", methods=["DELETE"])
    def offload_clear(self, req, **_kwargs):
        unconfirmed = self.app.clear_offloads()
        return json_response({"offloads": [], **confirmation(unconfirmed)})

    # -- Ryu rest_topology compatible views ------------------------------------------------
    def _topology(self, view, dpid):
        value = None
        if dpid is not None:
            value = hex_dpid(dpid)
            if value is None:
                return json_error(400, f"dpid: expected 16 hex digits, got {dpid!r}")
        with self.app.lock:
            ports = port_descs(dict(self.app.datapaths))
            if view == "switches":
                return json_response(topology_view.switches(ports, value))
            return json_response(getattr(topology_view, view)(self.state, ports, value))

    @route("topology", "/v1.0/topology/switches", methods=["GET"])
    def topology_switches(self, req, **_kwargs):
        return self._topology("switches", None)

    @route("topology", "/v1.0/topology/switches/{dpid}", methods=["GET"])
    def topology_switch(self, req, dpid, **_kwargs):
        return self._topology("switches", dpid)

    @route("topology", "/v1.0/topology/links", methods=["GET"])
    def topology_links(self, req, **_kwargs):
        return self._topology("links", None)

    @route("topology", "/v1.0/topology/links/{dpid}", methods=["GET"])
    def topology_switch_links(self, req, dpid, **_kwargs):
        return self._topology("links", dpid)

    @route("topology", "/v1.0/topology/hosts", methods=["GET"])
    def topology_hosts(self, req, **_kwargs):
        return self._topology("hosts", None)

    @route("topology", "/v1.0/topology/hosts/{dpid}", methods=["GET"])
    def topology_switch_hosts(self, req, dpid, **_kwargs):
        return self._topology("hosts", dpid)
