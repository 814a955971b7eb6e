# A trainee's REST-controlled switch: GET the MAC table, POST/DELETE a blocked source MAC.
import json

from ryu.app import simple_switch_13
from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, route
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, set_ev_cls
from ryu.lib import dpid as dpid_lib

APP_NAME = "blocker_app"


class RestBlocker(simple_switch_13.SimpleSwitch13):
    _CONTEXTS = {"wsgi": WSGIApplication}  # noqa: RUF012 (a Ryu app's class attribute, written as trainees write it)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.switches = {}
        self.blocked = set()
        kwargs["wsgi"].register(BlockerController, {APP_NAME: self})

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features_handler(self, ev):
        super().switch_features_handler(ev)
        self.switches[ev.msg.datapath.id] = ev.msg.datapath

    def block(self, mac):
        self.blocked.add(mac)
        for dp in self.switches.values():
            parser = dp.ofproto_parser
            self.add_flow(dp, 100, parser.OFPMatch(eth_src=mac), [])

    def unblock(self, mac):
        self.blocked.discard(mac)
        for dp in self.switches.values():
            parser = dp.ofproto_parser
            dp.send_msg(
                parser.OFPFlowMod(
                    datapath=dp,
                    command=dp.ofproto.OFPFC_DELETE_STRICT,
                    priority=100,
                    out_port=dp.ofproto.OFPP_ANY,
                    out_group=dp.ofproto.OFPG_ANY,
                    match=parser.OFPMatch(eth_src=mac),
                )
            )


class BlockerController(ControllerBase):
    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data[APP_NAME]

    @route(
        "blocker", "/blocker/mactable/{dpid}", methods=["GET"], requirements={"dpid": dpid_lib.DPID_PATTERN}
    )
    def list_mac_table(self, req, **kwargs):
        dpid = dpid_lib.str_to_dpid(kwargs["dpid"])
        if dpid not in self.app.mac_to_port:
            return Response(status=404)
        body = json.dumps(self.app.mac_to_port[dpid])
        return Response(content_type="application/json", body=body)

    @route("blocker", "/blocker/block", methods=["POST"])
    def block(self, req, **kwargs):
        try:
            mac = req.json["mac"]
        except (ValueError, KeyError):
            return Response(status=400)
        self.app.block(mac)
        return Response(content_type="application/json", body=json.dumps(sorted(self.app.blocked)))

    @route("blocker", "/blocker/block/{mac}", methods=["DELETE"])
    def unblock(self, req, mac, **kwargs):
        self.app.unblock(mac)
        return Response(content_type="application/json", body=json.dumps(sorted(self.app.blocked)))
