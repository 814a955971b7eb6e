# A trainee app with a bug: every other packet-in raises. The app must keep handling the rest.
from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import MAIN_DISPATCHER, set_ev_cls
from ryu.ofproto import ofproto_v1_3


class FlakyApp(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]  # noqa: RUF012 (a Ryu app's class attribute, written as trainees write it)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = 0

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        self.seen += 1
        if self.seen % 2 == 1:
            raise ValueError(f"trainee bug on packet-in {self.seen}")
        dp = ev.msg.datapath
        parser = dp.ofproto_parser
        dp.send_msg(
            parser.OFPFlowMod(datapath=dp, priority=1, match=parser.OFPMatch(in_port=1), instructions=[])
        )
