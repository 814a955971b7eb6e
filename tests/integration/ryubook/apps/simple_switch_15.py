"""Switching hub chapter, OpenFlow 1.5 variant: packet-outs carry their in_port in a match.

Written for sdnlab in the style of the Ryu book (not Ryu's code). It needs switches that offer
OpenFlow 1.5: ``sdnlab up ... --protocols OpenFlow13,OpenFlow14,OpenFlow15``.
"""

from typing import ClassVar

from simple_switch_14 import SwitchingHub14

from ryu.ofproto import ofproto_v1_5


class SwitchingHub15(SwitchingHub14):
    """``SwitchingHub14`` on OpenFlow 1.5, where OFPPacketOut takes a match instead of in_port."""

    OFP_VERSIONS: ClassVar[list[int]] = [ofproto_v1_5.OFP_VERSION]

    def packet_out(self, datapath, msg, in_port, actions):
        parser = datapath.ofproto_parser
        datapath.send_msg(
            parser.OFPPacketOut(
                datapath=datapath,
                buffer_id=datapath.ofproto.OFP_NO_BUFFER,
                match=parser.OFPMatch(in_port=in_port),
                actions=actions,
                data=msg.data,
            )
        )
