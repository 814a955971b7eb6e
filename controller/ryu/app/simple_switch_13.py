"""Ryu's ``simple_switch_13``: an OpenFlow 1.3 L2 learning switch meant to be subclassed.

Kept close to the classic sample's public shape (``SimpleSwitch13``, ``mac_to_port``,
``add_flow(datapath, priority, match, actions, buffer_id=None)``, ``_packet_in_handler``) so
trainee apps written as ``class MyApp(simple_switch_13.SimpleSwitch13)`` keep working.
``mac_to_port`` takes a switch's dpid as the int (Ryu 4.34, the Ryu book) or as Ryu's later
16-digit string ``format(dpid, "d").zfill(16)``; both reach the same table
(``sdnlab.controller.dpid_table``).
"""

from __future__ import annotations

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib.packet import ether_types, ethernet, packet
from os_ken.ofproto import ofproto_v1_3

from sdnlab.controller.dpid_table import DpidTable


class SimpleSwitch13(app_manager.OSKenApp):
    """Learns which port each MAC lives behind; installs a flow once the destination is known."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]  # noqa: RUF012 (a Ryu app's class attribute, written as trainees write it)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mac_to_port = DpidTable()  # keyed by datapath.id or by its 16-digit string

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features_handler(self, ev):
        """Install the table-miss flow: everything unmatched goes to the controller."""
        datapath = ev.msg.datapath
        ofproto = datapath.ofproto
        parser = datapath.ofproto_parser
        to_controller = [parser.OFPActionOutput(ofproto.OFPP_CONTROLLER, ofproto.OFPCML_NO_BUFFER)]
        self.add_flow(datapath, 0, parser.OFPMatch(), to_controller)

    def add_flow(self, datapath, priority, match, actions, buffer_id=None, idle_timeout=0, hard_timeout=0):
        """Add a flow applying ``actions`` to packets matching ``match`` in table 0."""
        datapath.send_msg(flow_mod(datapath, priority, match, actions, buffer_id, idle_timeout, hard_timeout))

    def _mac_table(self, dpid):
        """The switch's MAC table (also when a subclass replaced ``mac_to_port`` with a plain dict)."""
        if isinstance(self.mac_to_port, DpidTable):
            return self.mac_to_port.for_switch(dpid)
        return self.mac_to_port.setdefault(dpid, {})

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in_handler(self, ev):
        msg = ev.msg
        datapath = msg.datapath
        ofproto = datapath.ofproto
        parser = datapath.ofproto_parser
        in_port = msg.match["in_port"]

        eth = packet.Packet(msg.data).get_protocols(ethernet.ethernet)[0]
        if eth.ethertype == ether_types.ETH_TYPE_LLDP:
            return  # discovery traffic, not for forwarding
        dst, src = eth.dst, eth.src
        table = self._mac_table(datapath.id)
        table[src] = in_port
        # at INFO, as the switching hub chapter shows it in ryu-manager's output
        self.logger.info("packet in %s %s %s %s", datapath.id, src, dst, in_port)

        out_port = table.get(dst, ofproto.OFPP_FLOOD)
        actions = [parser.OFPActionOutput(out_port)]
        if out_port != ofproto.OFPP_FLOOD:
            match = parser.OFPMatch(in_port=in_port, eth_dst=dst, eth_src=src)
            if msg.buffer_id != ofproto.OFP_NO_BUFFER:
                self.add_flow(datapath, 1, match, actions, msg.buffer_id)
                return
            self.add_flow(datapath, 1, match, actions)
        data = msg.data if msg.buffer_id == ofproto.OFP_NO_BUFFER else None
        datapath.send_msg(
            parser.OFPPacketOut(
                datapath=datapath, buffer_id=msg.buffer_id, in_port=in_port, actions=actions, data=data
            )
        )


def flow_mod(datapath, priority, match, actions, buffer_id=None, idle_timeout=0, hard_timeout=0, table_id=0):
    """The flow-mod ``add_flow`` sends: apply ``actions`` to packets matching ``match`` in ``table_id``."""
    ofproto = datapath.ofproto
    parser = datapath.ofproto_parser
    instructions = [parser.OFPInstructionActions(ofproto.OFPIT_APPLY_ACTIONS, actions)]
    extra = {} if buffer_id is None else {"buffer_id": buffer_id}
    return parser.OFPFlowMod(
        datapath=datapath,
        table_id=table_id,
        priority=priority,
        match=match,
        instructions=instructions,
        idle_timeout=idle_timeout,
        hard_timeout=hard_timeout,
        **extra,
    )
