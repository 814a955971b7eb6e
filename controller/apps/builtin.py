"""The built-in controller app labs run (``sdnlab.controller.apps.builtin``).

A thin os-ken shim: each ``@set_ev_cls`` handler turns the event into plain values, asks the
forwarding logic (``sdnlab.controller.l2``) what to do and sends the returned messages.
"""

from __future__ import annotations

import time

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3

from sdnlab.controller.l2 import LearningSwitch, PacketIn
from sdnlab.controller.packets import ethernet_fields


def send_msgs(datapath, msgs) -> None:
    """Attach ``datapath`` to messages built offline and send them in order."""
    for msg in msgs:
        msg.datapath = datapath
        datapath.send_msg(msg)


class BuiltinController(app_manager.OSKenApp):
    """L2 learning switch for every OpenFlow 1.3 datapath."""

    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.l2 = LearningSwitch()

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _switch_features(self, ev) -> None:
        datapath = ev.msg.datapath
        self.logger.info("switch %016x connected", datapath.id)
        send_msgs(datapath, self.l2.datapath_up(datapath.id))

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    def _switch_gone(self, ev) -> None:
        if ev.datapath.id is not None:
            self.l2.datapath_down(ev.datapath.id)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev) -> None:
        msg = ev.msg
        fields = ethernet_fields(msg.data)
        if fields is None:
            return
        eth_dst, eth_src, eth_type = fields
        pkt = PacketIn(msg.datapath.id, msg.match["in_port"], eth_src, eth_dst, bytes(msg.data),
                       msg.buffer_id, eth_type)
        send_msgs(msg.datapath, self.l2.packet_in(time.monotonic(), pkt))
