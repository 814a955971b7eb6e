"""REST linkage in the Ryu book's (4.34) style: a SimpleSwitch13 subclass keyed by the int dpid.

``GET /simpleswitch/mactable/{dpid}`` lists the switch's learnt MACs; ``PUT`` with
``{"mac": ..., "port": ...}`` adds one and installs flows to and from it.
"""

import json

from ryu.app import simple_switch_13
from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, route
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, set_ev_cls
from ryu.lib import dpid as dpid_lib

APP_KEY = "mac_table_app"
URL = "/simpleswitch/mactable/{dpid}"


class MacTableRest(simple_switch_13.SimpleSwitch13):
    _CONTEXTS = {"wsgi": WSGIApplication}  # noqa: RUF012 (a Ryu app's class attribute, as trainees write it)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.datapaths = {}
        kwargs["wsgi"].register(MacTableController, {APP_KEY: self})

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features_handler(self, ev):
        super().switch_features_handler(ev)
        datapath = ev.msg.datapath
        self.datapaths[datapath.id] = datapath
        self.mac_to_port.setdefault(datapath.id, {})

    def add_entry(self, dpid, mac, port):
        table = self.mac_to_port.setdefault(dpid, {})
        datapath = self.datapaths[dpid]
        parser = datapath.ofproto_parser
        for other_mac, other_port in table.items():
            if other_port != port:
                self.add_flow(
                    datapath,
                    1,
                    parser.OFPMatch(in_port=port, eth_src=mac, eth_dst=other_mac),
                    [parser.OFPActionOutput(other_port)],
                )
                self.add_flow(
                    datapath,
                    1,
                    parser.OFPMatch(in_port=other_port, eth_src=other_mac, eth_dst=mac),
                    [parser.OFPActionOutput(port)],
                )
        table[mac] = port
        return table


class MacTableController(ControllerBase):
    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data[APP_KEY]

    @route("simpleswitch", URL, methods=["GET"], requirements={"dpid": dpid_lib.DPID_PATTERN})
    def list_mac_table(self, req, **kwargs):
        dpid = dpid_lib.str_to_dpid(kwargs["dpid"])
        if dpid not in self.app.mac_to_port:
            return Response(status=404)
        return Response(content_type="application/json", body=json.dumps(self.app.mac_to_port.get(dpid, {})))

    @route("simpleswitch", URL, methods=["PUT"], requirements={"dpid": dpid_lib.DPID_PATTERN})
    def put_mac_table(self, req, **kwargs):
        dpid = dpid_lib.str_to_dpid(kwargs["dpid"])
        entry = req.json
        table = self.app.add_entry(dpid, entry["mac"], int(entry["port"]))
        return Response(content_type="application/json", body=json.dumps(table))
