# A trainee's topology-aware router: ryu.topology.api + networkx shortest paths, run with
# --observe-links. Hosts are learned from packet-ins on ports that are not inter-switch links.
import networkx as nx

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib.packet import ether_types, ethernet, packet
from ryu.ofproto import ofproto_v1_3
from ryu.topology import event
from ryu.topology.api import get_link, get_switch


class ShortestPath(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]  # noqa: RUF012 (a Ryu app's class attribute, written as trainees write it)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.graph = nx.DiGraph()
        self.hosts = {}  # mac -> (dpid, port)
        self.datapaths = {}

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        dp = ev.msg.datapath
        self.datapaths[dp.id] = dp
        parser = dp.ofproto_parser
        inst = [
            parser.OFPInstructionActions(
                dp.ofproto.OFPIT_APPLY_ACTIONS,
                [parser.OFPActionOutput(dp.ofproto.OFPP_CONTROLLER, dp.ofproto.OFPCML_NO_BUFFER)],
            )
        ]
        dp.send_msg(parser.OFPFlowMod(datapath=dp, priority=0, match=parser.OFPMatch(), instructions=inst))

    @set_ev_cls([event.EventSwitchEnter, event.EventLinkAdd, event.EventLinkDelete])
    def topology_changed(self, ev):
        self.graph = nx.DiGraph()
        for switch in get_switch(self, None):
            self.graph.add_node(switch.dp.id)
        for link in get_link(self, None):
            self.graph.add_edge(link.src.dpid, link.dst.dpid, port=link.src.port_no)
        self.logger.info(
            "topology switches=%d links=%d", self.graph.number_of_nodes(), self.graph.number_of_edges()
        )

    def is_link_port(self, dpid, port):
        if dpid not in self.graph:
            return False
        return any(data["port"] == port for _, _, data in self.graph.out_edges(dpid, data=True))

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        dp = msg.datapath
        parser = dp.ofproto_parser
        in_port = msg.match["in_port"]
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if eth.ethertype == ether_types.ETH_TYPE_LLDP:
            return
        if not self.is_link_port(dp.id, in_port):
            self.hosts[eth.src] = (dp.id, in_port)
        if eth.dst in self.hosts and dp.id in self.graph:
            dst_dpid, dst_port = self.hosts[eth.dst]
            try:
                path = nx.shortest_path(self.graph, dp.id, dst_dpid)
            except nx.NetworkXNoPath:
                return
            self.logger.info("path %s -> %s: %s", eth.src, eth.dst, path)
            for here, there in zip(path, [*path[1:], None], strict=False):
                out = dst_port if there is None else self.graph[here][there]["port"]
                node = self.datapaths[here]
                actions = [node.ofproto_parser.OFPActionOutput(out)]
                inst = [node.ofproto_parser.OFPInstructionActions(node.ofproto.OFPIT_APPLY_ACTIONS, actions)]
                node.send_msg(
                    node.ofproto_parser.OFPFlowMod(
                        datapath=node,
                        priority=10,
                        match=node.ofproto_parser.OFPMatch(eth_dst=eth.dst),
                        instructions=inst,
                        idle_timeout=60,
                    )
                )
            first_out = dst_port if len(path) == 1 else self.graph[path[0]][path[1]]["port"]
            actions = [parser.OFPActionOutput(first_out)]
        else:
            # flood only out of host ports, never along links, so loops are harmless
            actions = [parser.OFPActionOutput(port) for port in self.edge_ports(dp) if port != in_port]
            for other in self.datapaths.values():
                if other.id != dp.id:
                    self.send_out(
                        other,
                        [other.ofproto_parser.OFPActionOutput(p) for p in self.edge_ports(other)],
                        msg.data,
                    )
        self.send_out(dp, actions, msg.data, in_port)

    def edge_ports(self, dp):
        switches = get_switch(self, dp.id)
        ports = [p.port_no for s in switches for p in s.ports]
        return [p for p in ports if not self.is_link_port(dp.id, p)]

    def send_out(self, dp, actions, data, in_port=None):
        if not actions:
            return
        parser = dp.ofproto_parser
        dp.send_msg(
            parser.OFPPacketOut(
                datapath=dp,
                buffer_id=dp.ofproto.OFP_NO_BUFFER,
                in_port=dp.ofproto.OFPP_CONTROLLER if in_port is None else in_port,
                actions=actions,
                data=data,
            )
        )
