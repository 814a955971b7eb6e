"""Reference solution of lab 12: the Ryu book's firewall policy as an OpenFlow 1.3 app.

Table 0 is the firewall: ARP always passes, each rule of RULES (written like the book's
`curl -X POST -d '{...}' /firewall/rules/...` bodies) becomes a flow that passes (goto table 1)
or drops the packets it matches, and any other IPv4 packet is dropped. Table 1 is the
switching hub that forwards what the firewall let through.
"""

import ipaddress

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib.packet import ether_types, ethernet, packet
from ryu.ofproto import ofproto_v1_3

FIREWALL_TABLE, HUB_TABLE = 0, 1
RULE_PRIORITY_BASE = 100  # a rule's "priority" is added to this; ARP passes above every rule
ARP_PRIORITY = 65534
PROTOCOLS = {"ICMP": 1, "TCP": 6, "UDP": 17}

RULES = [
    {"nw_src": "10.0.0.1/32", "nw_dst": "10.0.0.2/32", "nw_proto": "ICMP"},
    {"nw_src": "10.0.0.2/32", "nw_dst": "10.0.0.1/32", "nw_proto": "ICMP"},
    {"nw_src": "10.0.0.2/32", "nw_dst": "10.0.0.3/32"},
    {"nw_src": "10.0.0.3/32", "nw_dst": "10.0.0.2/32"},
    {"nw_src": "10.0.0.3/32", "nw_dst": "10.0.0.2/32", "nw_proto": "ICMP", "actions": "DENY", "priority": 10},
]


def rule_match(parser, rule):
    """The OFPMatch of one rule: IPv4, its addresses (address/prefix) and protocol if given."""
    fields = {"eth_type": ether_types.ETH_TYPE_IP}
    for key, field in (("nw_src", "ipv4_src"), ("nw_dst", "ipv4_dst")):
        if key in rule:
            net = ipaddress.IPv4Network(rule[key], strict=False)
            fields[field] = (str(net.network_address), str(net.netmask))
    if "nw_proto" in rule:
        fields["ip_proto"] = PROTOCOLS[rule["nw_proto"]]
    return parser.OFPMatch(**fields)


class Firewall(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mac_to_port = {}

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

    def goto_hub(self, parser):
        return [parser.OFPInstructionGotoTable(HUB_TABLE)]

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features_handler(self, ev):
        datapath = ev.msg.datapath
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        self.add_flow(
            datapath,
            FIREWALL_TABLE,
            ARP_PRIORITY,
            parser.OFPMatch(eth_type=ether_types.ETH_TYPE_ARP),
            self.goto_hub(parser),
        )
        for rule in RULES:
            allow = rule.get("actions", "ALLOW") == "ALLOW"
            priority = RULE_PRIORITY_BASE + int(rule.get("priority", 1))
            self.add_flow(
                datapath,
                FIREWALL_TABLE,
                priority,
                rule_match(parser, rule),
                self.goto_hub(parser) if allow else [],
            )
        self.add_flow(datapath, FIREWALL_TABLE, 0, parser.OFPMatch(), [])  # everything else: dropped
        to_controller = [parser.OFPActionOutput(ofproto.OFPP_CONTROLLER, ofproto.OFPCML_NO_BUFFER)]
        self.add_flow(datapath, HUB_TABLE, 0, parser.OFPMatch(), self.apply(parser, ofproto, to_controller))

    def apply(self, parser, ofproto, actions):
        return [parser.OFPInstructionActions(ofproto.OFPIT_APPLY_ACTIONS, actions)]

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in_handler(self, ev):
        msg = ev.msg
        datapath = msg.datapath
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        in_port = msg.match["in_port"]
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if eth is None or eth.ethertype == ether_types.ETH_TYPE_LLDP:
            return
        macs = self.mac_to_port.setdefault(datapath.id, {})
        macs[eth.src] = in_port
        out_port = macs.get(eth.dst, ofproto.OFPP_FLOOD)
        actions = [parser.OFPActionOutput(out_port)]
        if out_port != ofproto.OFPP_FLOOD:
            # both ways at once: the firewall may drop every packet that would teach the way back
            # (the deny rule drops h3's ping replies to h2)
            for from_port, to_mac, to_port in ((in_port, eth.dst, out_port), (out_port, eth.src, in_port)):
                match = parser.OFPMatch(in_port=from_port, eth_dst=to_mac)
                out = [parser.OFPActionOutput(to_port)]
                self.add_flow(datapath, HUB_TABLE, 1, match, self.apply(parser, ofproto, out))
        data = msg.data if msg.buffer_id == ofproto.OFP_NO_BUFFER else None
        datapath.send_msg(
            parser.OFPPacketOut(
                datapath=datapath, buffer_id=msg.buffer_id, in_port=in_port, actions=actions, data=data
            )
        )
