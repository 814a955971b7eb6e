"""Link aggregation chapter: a learning switch whose ports 1 and 2 of switch 1 form an LACP bond.

Written for sdnlab in the style of the Ryu book (not Ryu's code). ``ryu.lib.lacplib`` answers the
host's LACP data units and reports when a member port comes up or times out; packets that are
not LACP reach this app as ``lacplib.EventPacketIn``. When a member changes state, the learned
flows of that switch are dropped so that traffic is learned again over the members still up.
Each state change is logged as ``SLAVE-STATE dpid=<16 hex> port=<n> enabled=<bool>``.
"""

from typing import ClassVar

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib import lacplib
from ryu.lib.dpid import str_to_dpid
from ryu.lib.packet import ether_types, ethernet, packet
from ryu.ofproto import ofproto_v1_3

BOND_SWITCH = str_to_dpid("0000000000000001")
BOND_PORTS = [1, 2]
LEARNED_PRIORITY = 1


class LacpSwitchingHub13(app_manager.RyuApp):
    OFP_VERSIONS: ClassVar[list[int]] = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS: ClassVar[dict] = {"lacplib": lacplib.LacpLib}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mac_to_port = {}
        self.lacp = kwargs["lacplib"]
        self.lacp.add(dpid=BOND_SWITCH, ports=BOND_PORTS)

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features_handler(self, ev):
        datapath = ev.msg.datapath
        parser, ofproto = datapath.ofproto_parser, datapath.ofproto
        miss = [parser.OFPActionOutput(ofproto.OFPP_CONTROLLER, ofproto.OFPCML_NO_BUFFER)]
        self.add_flow(datapath, 0, parser.OFPMatch(), miss)

    def add_flow(self, datapath, priority, match, actions):
        parser, ofproto = datapath.ofproto_parser, datapath.ofproto
        instructions = [parser.OFPInstructionActions(ofproto.OFPIT_APPLY_ACTIONS, actions)]
        datapath.send_msg(
            parser.OFPFlowMod(datapath=datapath, priority=priority, match=match, instructions=instructions)
        )

    def forget_learned_flows(self, datapath):
        parser, ofproto = datapath.ofproto_parser, datapath.ofproto
        for mac in self.mac_to_port.get(datapath.id, {}):
            datapath.send_msg(
                parser.OFPFlowMod(
                    datapath=datapath,
                    command=ofproto.OFPFC_DELETE,
                    out_port=ofproto.OFPP_ANY,
                    out_group=ofproto.OFPG_ANY,
                    priority=LEARNED_PRIORITY,
                    match=parser.OFPMatch(eth_dst=mac),
                )
            )
        self.mac_to_port.pop(datapath.id, None)

    @set_ev_cls(lacplib.EventPacketIn, MAIN_DISPATCHER)
    def packet_in_handler(self, ev):
        msg = ev.msg
        datapath = msg.datapath
        parser, ofproto = datapath.ofproto_parser, datapath.ofproto
        in_port = msg.match["in_port"]
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if eth is None or eth.ethertype == ether_types.ETH_TYPE_LLDP:
            return
        table = self.mac_to_port.setdefault(datapath.id, {})
        table[eth.src] = in_port
        out_port = table.get(eth.dst, ofproto.OFPP_FLOOD)
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

    @set_ev_cls(lacplib.EventSlaveStateChanged, MAIN_DISPATCHER)
    def slave_state_changed(self, ev):
        self.logger.info("SLAVE-STATE dpid=%016x port=%d enabled=%s", ev.datapath.id, ev.port, ev.enabled)
        self.forget_learned_flows(ev.datapath)
