"""Reference solution of lab 11: a switching hub that floods along the spanning tree (stplib).

Ryu's STP library runs as a context: it exchanges BPDUs, moves ports through LISTEN and LEARN to
FORWARD or BLOCK, and passes the app only packets that arrived on forwarding ports
(``stplib.EventPacketIn``); a flood then leaves only through forwarding ports. When the tree
changes, the learned MACs and their flows are forgotten.
"""

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import dpid as dpid_lib
from ryu.lib import stplib
from ryu.lib.packet import ether_types, ethernet, packet
from ryu.ofproto import ofproto_v1_3

# s1 is the root, s2 next (lower is preferred); short timers so the lab converges in seconds
BRIDGE_PRIORITIES = {1: 0x8000, 2: 0x9000, 3: 0xA000}
TIMERS = {"hello_time": 1, "max_age": 4, "fwd_delay": 3}
LEARNED_PRIORITY = 1


class SpanningTreeHub(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS = {"stplib": stplib.Stp}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mac_to_port = {}
        config = {
            dpid_lib.str_to_dpid(f"{dpid:016x}"): {"bridge": {"priority": priority, **TIMERS}}
            for dpid, priority in BRIDGE_PRIORITIES.items()
        }
        kwargs["stplib"].set_config(config)

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

    def forget(self, datapath):
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        for mac in self.mac_to_port.pop(datapath.id, {}):
            datapath.send_msg(
                parser.OFPFlowMod(
                    datapath,
                    command=ofproto.OFPFC_DELETE,
                    out_port=ofproto.OFPP_ANY,
                    out_group=ofproto.OFPG_ANY,
                    priority=LEARNED_PRIORITY,
                    match=parser.OFPMatch(eth_dst=mac),
                )
            )

    @set_ev_cls(stplib.EventPacketIn, MAIN_DISPATCHER)
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
        out_port = macs.get(eth.dst, ofproto.OFPP_FLOOD)
        actions = [parser.OFPActionOutput(out_port)]
        if out_port != ofproto.OFPP_FLOOD:
            self.add_flow(
                datapath, LEARNED_PRIORITY, parser.OFPMatch(in_port=in_port, eth_dst=eth.dst), actions
            )
        data = msg.data if msg.buffer_id == ofproto.OFP_NO_BUFFER else None
        datapath.send_msg(
            parser.OFPPacketOut(
                datapath=datapath, buffer_id=msg.buffer_id, in_port=in_port, actions=actions, data=data
            )
        )

    @set_ev_cls(stplib.EventTopologyChange, MAIN_DISPATCHER)
    def topology_change_handler(self, ev):
        self.logger.info(
            "[dpid=%s] topology changed: forgetting learned MACs", dpid_lib.dpid_to_str(ev.dp.id)
        )
        self.forget(ev.dp)

    @set_ev_cls(stplib.EventPortStateChange, MAIN_DISPATCHER)
    def port_state_change_handler(self, ev):
        names = {
            stplib.PORT_STATE_DISABLE: "DISABLE",
            stplib.PORT_STATE_BLOCK: "BLOCK",
            stplib.PORT_STATE_LISTEN: "LISTEN",
            stplib.PORT_STATE_LEARN: "LEARN",
            stplib.PORT_STATE_FORWARD: "FORWARD",
        }
        self.logger.info(
            "[dpid=%s][port=%d] state=%s", dpid_lib.dpid_to_str(ev.dp.id), ev.port_no, names[ev.port_state]
        )
