"""Lab 11: a switching hub on a ring, made safe with Ryu's STP library. Complete the TODOs.

The ring s1-s2-s3 is a loop: a switching hub that floods would send every broadcast round the
ring for ever (a broadcast storm). So this starter never floods: it forwards only to learned
ports, and since nothing is ever learned (ARP requests are broadcasts), hosts cannot reach each
other. Add the spanning tree, then flood.
"""

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import dpid as dpid_lib
from ryu.lib import stplib  # noqa: F401  (TODO 1 uses it)
from ryu.lib.packet import ether_types, ethernet, packet
from ryu.ofproto import ofproto_v1_3

# s1 is the root, s2 next (lower is preferred); short timers so the lab converges in seconds
BRIDGE_PRIORITIES = {1: 0x8000, 2: 0x9000, 3: 0xA000}
TIMERS = {"hello_time": 1, "max_age": 4, "fwd_delay": 3}
LEARNED_PRIORITY = 1


class SpanningTreeHub(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    # TODO 1: declare the STP library as a context: _CONTEXTS = {"stplib": stplib.Stp}, and in
    # __init__ give it the bridges' configuration with kwargs["stplib"].set_config({dpid: {"bridge":
    # {"priority": ..., **TIMERS}}}) for each dpid of BRIDGE_PRIORITIES (dpid_lib.str_to_dpid).

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mac_to_port = {}
        self.bridge_config = {
            dpid_lib.str_to_dpid(f"{dpid:016x}"): {"bridge": {"priority": priority, **TIMERS}}
            for dpid, priority in BRIDGE_PRIORITIES.items()
        }

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
        to_controller = [parser.OFPActionOutput(ofproto.OFPP_CONTROLLER, ofproto.OFPCML_NO_BUFFER)]
        self.add_flow(datapath, 0, parser.OFPMatch(), to_controller)

    # TODO 2: take packets from stplib.EventPacketIn instead (stplib passes on only those that
    # arrived on forwarding ports; BPDUs it keeps for itself).
    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in_handler(self, ev):
        msg = ev.msg
        datapath = msg.datapath
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        in_port = msg.match["in_port"]
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if eth is None or eth.ethertype == ether_types.ETH_TYPE_LLDP:
            return
        macs = self.mac_to_port.setdefault(datapath.id, {})
        macs[eth.src] = in_port
        out_port = macs.get(eth.dst)
        if out_port is None:
            return  # TODO 3: with the spanning tree in place, flood (ofproto.OFPP_FLOOD) instead
        actions = [parser.OFPActionOutput(out_port)]
        self.add_flow(datapath, LEARNED_PRIORITY, parser.OFPMatch(in_port=in_port, eth_dst=eth.dst), actions)
        data = msg.data if msg.buffer_id == ofproto.OFP_NO_BUFFER else None
        datapath.send_msg(
            parser.OFPPacketOut(
                datapath=datapath, buffer_id=msg.buffer_id, in_port=in_port, actions=actions, data=data
            )
        )

    # TODO 4: when stplib reports stplib.EventTopologyChange (ev.dp), forget that switch's learned
    # MACs and delete their flows (OFPFC_DELETE, priority LEARNED_PRIORITY, match eth_dst), or
    # traffic keeps following the old tree. Log port states from stplib.EventPortStateChange.
