"""REST linkage in the style of Ryu's later SimpleSwitch13: the MAC table keyed by the dpid string.

Same resources as mac_table_rest_int.py, but every access to ``mac_to_port`` uses
``format(dpid, "d").zfill(16)``, as apps written against Ryu's master branch do.
"""

import json

from ryu.app import simple_switch_13
from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, route
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, set_ev_cls
from ryu.lib import dpid as dpid_lib

APP_KEY = "mac_table_app"
URL = "/simpleswitch/mactable/{dpid}"


def key(dpid):
    return format(dpid, "d").zfill(16)


class MacTableRestStr(simple_switch_13.SimpleSwitch13):
    _CONTEXTS = {"wsgi": WSGIApplication}  # noqa: RUF012 (a Ryu app's class attribute, as trainees write it)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.datapaths = {}
        kwargs["wsgi"].register(MacTableController, {APP_KEY: self})

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features_handler(self, ev):
        super().switch_features_handler(ev)
        datapath = ev.msg.datapath
        self.datapaths[key(datapath.id)] = datapath
        self.mac_to_port.setdefault(key(datapath.id), {})

    def add_entry(self, dpid_str, mac, port):
        table = self.mac_to_port.setdefault(dpid_str, {})
        datapath = self.datapaths[dpid_str]
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
        dpid_str = key(dpid_lib.str_to_dpid(kwargs["dpid"]))
        if dpid_str not in self.app.mac_to_port:
            return Response(status=404)
        return Response(content_type="application/json", body=json.dumps(self.app.mac_to_port[dpid_str]))

    @route("simpleswitch", URL, methods=["PUT"], requirements={"dpid": dpid_lib.DPID_PATTERN})
    def put_mac_table(self, req, **kwargs):
        dpid_str = key(dpid_lib.str_to_dpid(kwargs["dpid"]))
        entry = req.json
        table = self.app.add_entry(dpid_str, entry["mac"], int(entry["port"]))
        return Response(content_type="application/json", body=json.dumps(table))
