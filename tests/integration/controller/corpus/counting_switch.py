# A trainee's SimpleSwitch13 subclass: counts packet-ins per switch, then lets the parent forward.
from ryu.app import simple_switch_13
from ryu.controller import ofp_event
from ryu.controller.handler import MAIN_DISPATCHER, set_ev_cls


class CountingSwitch(simple_switch_13.SimpleSwitch13):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.packet_ins = {}

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in_handler(self, ev):
        dpid = ev.msg.datapath.id
        self.packet_ins[dpid] = self.packet_ins.get(dpid, 0) + 1
        self.logger.info("counting-switch dpid=%d packet_ins=%d", dpid, self.packet_ins[dpid])
        super()._packet_in_handler(ev)
