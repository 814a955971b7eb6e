"""Reference solution of lab 10: the switching hub with a REST API, as in the REST linkage chapter.

``GET /simpleswitch/mactable/{dpid}`` answers the switch's MAC table ({mac: port});
``PUT /simpleswitch/mactable/{dpid}`` with ``{"mac": ..., "port": ...}`` registers a host before
it has sent anything: the table learns it and flows are installed between it and every host
already known on that switch, both ways. An unknown switch is a 404.
"""

import json

from ryu.app.wsgi import ControllerBase, Response, WSGIApplication, route
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import dpid as dpid_lib
from ryu.lib.packet import ether_types, ethernet, packet
from ryu.ofproto import ofproto_v1_3

APP_KEY = "switch_app"
URL = "/simpleswitch/mactable/{dpid}"


class RestSwitchingHub(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {"wsgi": WSGIApplication}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mac_to_port = {}  # dpid -> {mac: port}
        self.datapaths = {}  # dpid -> datapath
        kwargs["wsgi"].register(MacTableController, {APP_KEY: self})

    def add_flow(self, datapath, priority, match, actions):
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        inst = [parser.OFPInstructionActions(ofproto.OFPIT_APPLY_ACTIONS, actions)]
        datapath.send_msg(
            parser.OFPFlowMod(datapath=datapath, priority=priority, match=match, instructions=inst)
        )

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features_handler(self, ev):
        datapath = ev.msg.datapath
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        self.datapaths[datapath.id] = datapath
        self.mac_to_port.setdefault(datapath.id, {})
        to_controller = [parser.OFPActionOutput(ofproto.OFPP_CONTROLLER, ofproto.OFPCML_NO_BUFFER)]
        self.add_flow(datapath, 0, parser.OFPMatch(), to_controller)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in_handler(self, ev):
        msg = ev.msg
        datapath = msg.datapath
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        in_port = msg.match["in_port"]
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if eth is None or eth.ethertype == ether_types.ETH_TYPE_LLDP:
            return
        macs = self.mac_to_port.setdefault(datapath.id, {})
        macs[eth.src] = in_port
        out_port = macs.get(eth.dst, ofproto.OFPP_FLOOD)
        actions = [parser.OFPActionOutput(out_port)]
        if out_port != ofproto.OFPP_FLOOD:
            self.add_flow(datapath, 1, parser.OFPMatch(in_port=in_port, eth_dst=eth.dst), actions)
        data = msg.data if msg.buffer_id == ofproto.OFP_NO_BUFFER else None
        datapath.send_msg(
            parser.OFPPacketOut(
                datapath=datapath, buffer_id=msg.buffer_id, in_port=in_port, actions=actions, data=data
            )
        )

    def set_mac_to_port(self, dpid, mac, port):
        """Register ``mac`` behind ``port`` and connect it with every known host, both ways."""
        datapath = self.datapaths[dpid]
        parser = datapath.ofproto_parser
        macs = self.mac_to_port[dpid]
        for known_mac, known_port in macs.items():
            if known_mac == mac or known_port == port:
                continue
            self.add_flow(
                datapath,
                1,
                parser.OFPMatch(in_port=port, eth_dst=known_mac),
                [parser.OFPActionOutput(known_port)],
            )
            self.add_flow(
                datapath, 1, parser.OFPMatch(in_port=known_port, eth_dst=mac), [parser.OFPActionOutput(port)]
            )
        macs[mac] = port
        return macs


class MacTableController(ControllerBase):
    def __init__(self, req, link, data, **config):
        super().__init__(req, link, data, **config)
        self.app = data[APP_KEY]

    @route("simpleswitch", URL, methods=["GET"], requirements={"dpid": dpid_lib.DPID_PATTERN})
    def list_mac_table(self, req, **kwargs):
        dpid = dpid_lib.str_to_dpid(kwargs["dpid"])
        if dpid not in self.app.mac_to_port:
            return Response(status=404)
        return Response(content_type="application/json", text=json.dumps(self.app.mac_to_port[dpid]))

    @route("simpleswitch", URL, methods=["PUT"], requirements={"dpid": dpid_lib.DPID_PATTERN})
    def put_mac_table(self, req, **kwargs):
        dpid = dpid_lib.str_to_dpid(kwargs["dpid"])
        if dpid not in self.app.datapaths:
            return Response(status=404)
        try:
            entry = req.json if req.body else {}
            mac, port = str(entry["mac"]), int(entry["port"])
        except (ValueError, KeyError, TypeError):
            return Response(status=400)
        table = self.app.set_mac_to_port(dpid, mac, port)
        return Response(content_type="application/json", text=json.dumps(table))
