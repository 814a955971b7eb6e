"""The baseline: a bare os-ken app that answers each packet-in with exactly one flow-mod."""

from typing import ClassVar

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3


class BareFlowMod(app_manager.OSKenApp):
    """One flow-mod (match eth_dst, output port 1) per packet-in; nothing else."""

    OFP_VERSIONS: ClassVar[list[int]] = [ofproto_v1_3.OFP_VERSION]

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        datapath = msg.datapath
        parser = datapath.ofproto_parser
        eth_dst = ":".join(f"{b:02x}" for b in msg.data[0:6])
        actions = [parser.OFPActionOutput(1)]
        instructions = [parser.OFPInstructionActions(datapath.ofproto.OFPIT_APPLY_ACTIONS, actions)]
        datapath.send_msg(
            parser.OFPFlowMod(
                datapath=datapath,
                priority=100,
                match=parser.OFPMatch(eth_dst=eth_dst),
                instructions=instructions,
                idle_timeout=60,
            )
        )
