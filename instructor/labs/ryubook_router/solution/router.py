"""Reference solution of lab 13: three OpenFlow switches as IPv4 routers (the router chapter's network).

Each router has a MAC and an address per port (ROUTERS). It answers ARP for its own addresses;
hosts that ask (for their gateway) or answer (to its ARP requests) get a host route. Static
routes to the other subnets go to the next router, whose MAC is known from the configuration.
Routed packets get the router's MAC as source, the next hop's as destination and TTL - 1.
"""

import ipaddress

from ryu.base import app_manager
from ryu.controller import ofp_event
from ryu.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from ryu.lib.packet import arp, ether_types, ethernet, ipv4, packet
from ryu.ofproto import ofproto_v1_3

ROUTERS = {
    1: {
        "mac": "0a:00:00:00:00:01",
        "ports": {1: "172.16.20.1/24", 2: "10.10.10.1/24"},
        "routes": {"172.16.10.0/24": "10.10.10.2", "192.168.30.0/24": "10.10.10.2"},
    },
    2: {
        "mac": "0a:00:00:00:00:02",
        "ports": {1: "172.16.10.1/24", 2: "10.10.10.2/24", 3: "192.168.10.1/24"},
        "routes": {"172.16.20.0/24": "10.10.10.1", "192.168.30.0/24": "192.168.10.2"},
    },
    3: {
        "mac": "0a:00:00:00:00:03",
        "ports": {1: "192.168.30.1/24", 2: "192.168.10.2/24"},
        "routes": {"172.16.20.0/24": "192.168.10.1", "172.16.10.0/24": "192.168.10.1"},
    },
}
HOST_ROUTE_PRIORITY = 100
NET_ROUTE_PRIORITY = 50
ARP_PRIORITY = 10


def router_of(address):
    """(dpid, router) owning ``address`` (the next hops are other routers)."""
    for dpid, router in ROUTERS.items():
        if any(
            ipaddress.IPv4Interface(a).ip == ipaddress.IPv4Address(address) for a in router["ports"].values()
        ):
            return dpid, router
    raise KeyError(address)


def port_towards(router, address):
    """The port whose subnet holds ``address``, with that port's own address."""
    for port, own in router["ports"].items():
        interface = ipaddress.IPv4Interface(own)
        if ipaddress.IPv4Address(address) in interface.network:
            return port, str(interface.ip)
    return None, None


class Router(app_manager.RyuApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def add_flow(self, datapath, priority, match, actions):
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        inst = [parser.OFPInstructionActions(ofproto.OFPIT_APPLY_ACTIONS, actions)]
        datapath.send_msg(
            parser.OFPFlowMod(datapath=datapath, priority=priority, match=match, instructions=inst)
        )

    def route_actions(self, parser, router, next_mac, port):
        return [
            parser.OFPActionSetField(eth_src=router["mac"]),
            parser.OFPActionSetField(eth_dst=next_mac),
            parser.OFPActionDecNwTtl(),
            parser.OFPActionOutput(port),
        ]

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features_handler(self, ev):
        datapath = ev.msg.datapath
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        router = ROUTERS.get(datapath.id)
        if router is None:
            return
        to_controller = [parser.OFPActionOutput(ofproto.OFPP_CONTROLLER, ofproto.OFPCML_NO_BUFFER)]
        self.add_flow(
            datapath, ARP_PRIORITY, parser.OFPMatch(eth_type=ether_types.ETH_TYPE_ARP), to_controller
        )
        for prefix, next_hop in ROUTERS[datapath.id]["routes"].items():
            _, neighbour = router_of(next_hop)
            port, _ = port_towards(router, next_hop)
            net = ipaddress.IPv4Network(prefix)
            match = parser.OFPMatch(
                eth_type=ether_types.ETH_TYPE_IP, ipv4_dst=(str(net.network_address), str(net.netmask))
            )
            self.add_flow(
                datapath,
                NET_ROUTE_PRIORITY,
                match,
                self.route_actions(parser, router, neighbour["mac"], port),
            )
        self.add_flow(datapath, 0, parser.OFPMatch(), to_controller)  # e.g. a host not known yet

    def learn_host(self, datapath, router, ip, mac, port):
        parser = datapath.ofproto_parser
        match = parser.OFPMatch(eth_type=ether_types.ETH_TYPE_IP, ipv4_dst=ip)
        self.add_flow(datapath, HOST_ROUTE_PRIORITY, match, self.route_actions(parser, router, mac, port))

    def send(self, datapath, port, pkt):
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        pkt.serialize()
        datapath.send_msg(
            parser.OFPPacketOut(
                datapath=datapath,
                buffer_id=ofproto.OFP_NO_BUFFER,
                in_port=ofproto.OFPP_CONTROLLER,
                actions=[parser.OFPActionOutput(port)],
                data=pkt.data,
            )
        )

    def arp_packet(self, opcode, src_mac, src_ip, dst_mac, dst_ip):
        pkt = packet.Packet()
        eth_dst = "ff:ff:ff:ff:ff:ff" if opcode == arp.ARP_REQUEST else dst_mac
        pkt.add_protocol(ethernet.ethernet(ethertype=ether_types.ETH_TYPE_ARP, dst=eth_dst, src=src_mac))
        pkt.add_protocol(
            arp.arp(opcode=opcode, src_mac=src_mac, src_ip=src_ip, dst_mac=dst_mac, dst_ip=dst_ip)
        )
        return pkt

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in_handler(self, ev):
        msg = ev.msg
        datapath = msg.datapath
        router = ROUTERS.get(datapath.id)
        if router is None:
            return
        in_port = msg.match["in_port"]
        pkt = packet.Packet(msg.data)
        request = pkt.get_protocol(arp.arp)
        if request is not None:
            port, own_ip = port_towards(router, request.src_ip)
            if port != in_port:
                return  # not from this port's subnet
            if request.src_ip != own_ip:
                self.learn_host(datapath, router, request.src_ip, request.src_mac, in_port)
            if request.opcode == arp.ARP_REQUEST and request.dst_ip == own_ip:
                reply = self.arp_packet(arp.ARP_REPLY, router["mac"], own_ip, request.src_mac, request.src_ip)
                self.send(datapath, in_port, reply)
            return
        header = pkt.get_protocol(ipv4.ipv4)
        if header is None:
            return
        port, own_ip = port_towards(router, header.dst)
        if port is not None and header.dst != own_ip:
            # a host on a connected subnet that has not spoken yet: ask for it (the sender retries)
            ask = self.arp_packet(arp.ARP_REQUEST, router["mac"], own_ip, "00:00:00:00:00:00", header.dst)
            self.send(datapath, port, ask)
