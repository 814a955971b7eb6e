"""Spanning tree chapter: a learning switch that floods only along the spanning tree.

Written for sdnlab in the style of the Ryu book's chapter (not Ryu's code): the switching hub of
``ryu.app.simple_switch_13`` plus Ryu's STP library (``ryu.lib.stplib``) as a context. The
library sends and receives BPDUs, moves each port through LISTEN and LEARN to FORWARD or BLOCK,
and hands the app only the packets that arrived on forwarding ports (``stplib.EventPacketIn``).
When the tree changes, the learnt MAC table is forgotten and the learnt flows deleted.

The bridge priorities make s1 (dpid 1) the root, s2 next; the timers are the 802.1D defaults
unless a subclass sets ``TIMERS`` (hello, max age, forward delay in seconds).
"""

from typing import ClassVar

from ryu.app import simple_switch_13
from ryu.controller import ofp_event
from ryu.controller.handler import MAIN_DISPATCHER, set_ev_cls
from ryu.lib import dpid as dpid_lib
from ryu.lib import stplib
from ryu.lib.packet import ethernet, packet
from ryu.ofproto import ofproto_v1_3

PRIORITIES = {1: 0x8000, 2: 0x9000, 3: 0xA000}
STATE_NAMES = {
    stplib.PORT_STATE_DISABLE: "DISABLE",
    stplib.PORT_STATE_BLOCK: "BLOCK",
    stplib.PORT_STATE_LISTEN: "LISTEN",
    stplib.PORT_STATE_LEARN: "LEARN",
    stplib.PORT_STATE_FORWARD: "FORWARD",
}


class SpanningTreeSwitch13(simple_switch_13.SimpleSwitch13):
    """Switching hub whose floods follow the spanning tree stplib computes."""

    OFP_VERSIONS: ClassVar[list[int]] = [ofproto_v1_3.OFP_VERSION]
    _CONTEXTS: ClassVar[dict[str, type]] = {"stplib": stplib.Stp}
    TIMERS = None  # (hello_time, max_age, fwd_delay) or None for the defaults

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stp = kwargs["stplib"]
        config = {}
        for dpid, priority in PRIORITIES.items():
            bridge = {"priority": priority}
            if self.TIMERS:
                bridge.update(zip(("hello_time", "max_age", "fwd_delay"), self.TIMERS, strict=True))
            config[dpid_lib.str_to_dpid(f"{dpid:016x}")] = {"bridge": bridge}
        self.stp.set_config(config)

    def forget_switch(self, datapath):
        """Delete the learnt flows (priority 1) of one switch and its MAC table."""
        ofproto = datapath.ofproto
        parser = datapath.ofproto_parser
        for dst in self.mac_to_port.pop(datapath.id, {}):
            datapath.send_msg(
                parser.OFPFlowMod(
                    datapath,
                    command=ofproto.OFPFC_DELETE,
                    out_port=ofproto.OFPP_ANY,
                    out_group=ofproto.OFPG_ANY,
                    priority=1,
                    match=parser.OFPMatch(eth_dst=dst),
                )
            )

    @set_ev_cls(stplib.EventPacketIn, MAIN_DISPATCHER)
    def _packet_in_handler(self, ev):
        msg = ev.msg
        datapath = msg.datapath
        ofproto = datapath.ofproto
        parser = datapath.ofproto_parser
        in_port = msg.match["in_port"]
        eth = packet.Packet(msg.data).get_protocols(ethernet.ethernet)[0]
        table = self.mac_to_port.setdefault(datapath.id, {})
        table[eth.src] = in_port
        out_port = table.get(eth.dst, ofproto.OFPP_FLOOD)
        actions = [parser.OFPActionOutput(out_port)]
        if out_port != ofproto.OFPP_FLOOD:
            self.add_flow(datapath, 1, parser.OFPMatch(in_port=in_port, eth_dst=eth.dst), actions)
        data = msg.data if msg.buffer_id == ofproto.OFP_NO_BUFFER else None
        datapath.send_msg(
            parser.OFPPacketOut(
                datapath=datapath, buffer_id=msg.buffer_id, in_port=in_port, actions=actions, data=data
            )
        )

    @set_ev_cls(stplib.EventTopologyChange, MAIN_DISPATCHER)
    def _topology_change_handler(self, ev):
        self.logger.debug("[dpid=%s] topology change: flushing learnt MACs", dpid_lib.dpid_to_str(ev.dp.id))
        self.forget_switch(ev.dp)

    @set_ev_cls(stplib.EventPortStateChange, MAIN_DISPATCHER)
    def _port_state_change_handler(self, ev):
        self.logger.info(
            "PORT-STATE dpid=%s port=%d state=%s",
            dpid_lib.dpid_to_str(ev.dp.id),
            ev.port_no,
            STATE_NAMES[ev.port_state],
        )

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _port_status_handler(self, ev):
        self.logger.info(
            "port %d of %016x changed (reason %d, config 0x%x, state 0x%x)",
            ev.msg.desc.port_no,
            ev.msg.datapath.id,
            ev.msg.reason,
            ev.msg.desc.config,
            ev.msg.desc.state,
        )
