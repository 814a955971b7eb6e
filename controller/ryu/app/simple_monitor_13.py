"""Ryu's ``simple_monitor_13``: ``SimpleSwitch13`` plus periodic flow and port statistics.

Every ``interval`` seconds (10 by default) each connected switch is asked for flow and port
stats; the replies are logged and kept in ``flow_stats`` / ``port_stats`` (dpid -> body) so
subclasses and tests can read them.
"""

from __future__ import annotations

from os_ken.controller import ofp_event
from os_ken.controller.handler import DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub

from ryu.app import simple_switch_13


class SimpleMonitor13(simple_switch_13.SimpleSwitch13):
    """Learning switch that polls statistics from every switch."""

    interval = 10

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.datapaths = {}
        self.flow_stats = {}
        self.port_stats = {}
        self.monitor_thread = hub.spawn(self._monitor)

    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def _state_change_handler(self, ev):
        datapath = ev.datapath
        if ev.state == MAIN_DISPATCHER:
            self.datapaths[datapath.id] = datapath
        elif ev.state == DEAD_DISPATCHER:
            self.datapaths.pop(datapath.id, None)

    def _monitor(self):
        while self.is_active:
            for datapath in list(self.datapaths.values()):
                self._request_stats(datapath)
            hub.sleep(self.interval)

    def _request_stats(self, datapath):
        ofproto = datapath.ofproto
        parser = datapath.ofproto_parser
        datapath.send_msg(parser.OFPFlowStatsRequest(datapath))
        datapath.send_msg(parser.OFPPortStatsRequest(datapath, 0, ofproto.OFPP_ANY))

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def _flow_stats_reply_handler(self, ev):
        body = ev.msg.body
        self.flow_stats[ev.msg.datapath.id] = body
        # column heads over each reply, as the traffic monitor chapter shows the output
        self.logger.info("datapath         in-port  eth-dst           out-port packets  bytes")
        self.logger.info("---------------- -------- ----------------- -------- -------- --------")
        for stat in sorted(
            (flow for flow in body if flow.priority == 1),
            key=lambda flow: (flow.match["in_port"], flow.match["eth_dst"]),
        ):
            self.logger.info(
                "%016x %8x %17s %8x %8d %8d",
                ev.msg.datapath.id,
                stat.match["in_port"],
                stat.match["eth_dst"],
                stat.instructions[0].actions[0].port,
                stat.packet_count,
                stat.byte_count,
            )

    @set_ev_cls(ofp_event.EventOFPPortStatsReply, MAIN_DISPATCHER)
    def _port_stats_reply_handler(self, ev):
        body = ev.msg.body
        self.port_stats[ev.msg.datapath.id] = body
        self.logger.info("datapath         port     rx-pkts  rx-bytes rx-error tx-pkts  tx-bytes tx-error")
        self.logger.info("---------------- -------- -------- -------- -------- -------- -------- --------")
        for stat in sorted(body, key=lambda port: port.port_no):
            self.logger.info(
                "%016x %8x %8d %8d %8d %8d %8d %8d",
                ev.msg.datapath.id,
                stat.port_no,
                stat.rx_packets,
                stat.rx_bytes,
                stat.rx_errors,
                stat.tx_packets,
                stat.tx_bytes,
                stat.tx_errors,
            )
