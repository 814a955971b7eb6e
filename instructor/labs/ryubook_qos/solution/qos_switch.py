"""Reference solution of lab 14: a switching hub that rate-limits one class of traffic with a meter.

Following the QoS chapter's meter-table example. Table 0 classifies: TCP to
port 5002 goes through meter 1 (a drop band at METER_KBPS) before the switching hub in table 1;
everything else goes straight to table 1. OpenFlow 1.3 meters are what limits a flow's rate on
Open vSwitch's userspace datapath (queues chosen with set_queue are not; see docs/controller.md).
"""

from typing import ClassVar

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib.packet import ether_types, ethernet, packet
from ryu.ofproto import ofproto_v1_3

METER_ID = 1
METER_KBPS = 1000
LIMITED_TCP_PORT = 5002
HUB_TABLE = 1


class MeteredSwitchingHub13(app_manager.RyuApp):
    OFP_VERSIONS: ClassVar[list[int]] = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mac_to_port = {}

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features_handler(self, ev):
        datapath = ev.msg.datapath
        parser, ofproto = datapath.ofproto_parser, datapath.ofproto
        band = parser.OFPMeterBandDrop(rate=METER_KBPS, burst_size=METER_KBPS // 5)
        flags = ofproto.OFPMF_KBPS | ofproto.OFPMF_BURST
        datapath.send_msg(
            parser.OFPMeterMod(
                datapath, command=ofproto.OFPMC_ADD, flags=flags, meter_id=METER_ID, bands=[band]
            )
        )
        limited = parser.OFPMatch(eth_type=0x0800, ip_proto=6, tcp_dst=LIMITED_TCP_PORT)
        self.add_flow(
            datapath,
            0,
            20,
            limited,
            [parser.OFPInstructionMeter(METER_ID), parser.OFPInstructionGotoTable(HUB_TABLE)],
        )
        self.add_flow(datapath, 0, 0, parser.OFPMatch(), [parser.OFPInstructionGotoTable(HUB_TABLE)])
        miss = [parser.OFPActionOutput(ofproto.OFPP_CONTROLLER, ofproto.OFPCML_NO_BUFFER)]
        self.add_flow(datapath, HUB_TABLE, 0, parser.OFPMatch(), self.apply(datapath, miss))

    def apply(self, datapath, actions):
        return [datapath.ofproto_parser.OFPInstructionActions(datapath.ofproto.OFPIT_APPLY_ACTIONS, actions)]

    def add_flow(self, datapath, table_id, priority, match, instructions):
        parser = datapath.ofproto_parser
        datapath.send_msg(
            parser.OFPFlowMod(
                datapath=datapath,
                table_id=table_id,
                priority=priority,
                match=match,
                instructions=instructions,
            )
        )

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
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
            match = parser.OFPMatch(in_port=in_port, eth_dst=eth.dst)
            self.add_flow(datapath, HUB_TABLE, 1, match, self.apply(datapath, actions))
        data = msg.data if msg.buffer_id == ofproto.OFP_NO_BUFFER else None
        datapath.send_msg(
            parser.OFPPacketOut(
                datapath=datapath, buffer_id=msg.buffer_id, in_port=in_port, actions=actions, data=data
            )
        )
