"""The simulated switch honours the port config an app sets (stplib blocks ports that way) and
a simulated host with a gateway routes through it, as a kernel's default route does."""

from __future__ import annotations

from types import SimpleNamespace

from os_ken.lib.packet import arp, ethernet, icmp, packet
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from sdnlab.grader.replay.sim import SimHost, SimSwitch, arp_frame, icmp_frame, is_link_control

DATAPATH = SimpleNamespace(ofproto=ofp, ofproto_parser=parser, id=1)


class Wire:
    """What the switch or host under test puts on the wire, by port."""

    def __init__(self) -> None:
        self.emitted: list[tuple[int, bytes]] = []
        self.from_hosts: list[bytes] = []
        self.unsupported: list[str] = []
        self.drops = 0

    def emit(self, switch, port, frame, hops):
        self.emitted.append((port, frame))

    def from_host(self, host, frame):
        self.from_hosts.append(frame)

    def record(self, *args):
        pass


def wire_bytes(msg) -> bytes:
    msg.serialize()
    return bytes(msg.buf)


def flooding_switch(wire: Wire) -> SimSwitch:
    switch = SimSwitch(wire, "s1", 1, {1: "s1-eth1", 2: "s1-eth2", 3: "s1-eth3"})  # type: ignore[arg-type]
    flood = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(ofp.OFPP_FLOOD)])]
    switch._handle(
        wire_bytes(parser.OFPFlowMod(DATAPATH, priority=0, match=parser.OFPMatch(), instructions=flood))
    )
    return switch


def port_mod(port_no: int, config: int, mask: int = 0b1100101) -> bytes:
    return wire_bytes(parser.OFPPortMod(DATAPATH, port_no, "00:00:00:00:00:01", config, mask, 0))


BROADCAST = arp_frame(1, "00:00:00:00:00:01", "10.0.0.1", "ff:ff:ff:ff:ff:ff", "10.0.0.2")


def test_a_flood_skips_ports_the_app_set_to_no_fwd_and_they_come_back_when_cleared():
    wire = Wire()
    switch = flooding_switch(wire)
    switch.receive(1, BROADCAST, 0)
    assert sorted(p for p, _ in wire.emitted) == [2, 3]
    wire.emitted.clear()
    switch._handle(port_mod(3, ofp.OFPPC_NO_FWD | ofp.OFPPC_NO_PACKET_IN))  # stplib: BLOCK
    switch.receive(1, BROADCAST, 0)
    assert [p for p, _ in wire.emitted] == [2]
    wire.emitted.clear()
    switch._handle(port_mod(3, 0))  # FORWARD
    switch.receive(1, BROADCAST, 0)
    assert sorted(p for p, _ in wire.emitted) == [2, 3]


def test_a_port_set_to_no_recv_drops_what_arrives_on_it():
    wire = Wire()
    switch = flooding_switch(wire)
    switch._handle(port_mod(1, ofp.OFPPC_NO_RECV | ofp.OFPPC_NO_FWD))  # stplib: DISABLE
    switch.receive(1, BROADCAST, 0)
    assert wire.emitted == []
    switch.receive(2, BROADCAST, 0)
    assert [p for p, _ in wire.emitted] == [3]  # nor is anything forwarded to it


def test_a_port_mod_changes_only_the_bits_under_its_mask():
    switch = flooding_switch(Wire())
    switch._handle(port_mod(2, ofp.OFPPC_NO_FWD))
    switch._handle(port_mod(2, 0, mask=ofp.OFPPC_NO_RECV))
    assert switch.forwarding() == {1, 3}


def test_bpdus_and_lldp_are_link_control_frames_hosts_traffic_is_not():
    assert is_link_control(bytes.fromhex("0180c2000000") + bytes(60))  # STP
    assert is_link_control(bytes.fromhex("0180c200000e") + bytes(60))  # LLDP
    assert not is_link_control(BROADCAST)


def routed_host(wire: Wire) -> SimHost:
    return SimHost(wire, "h1", "00:00:00:00:01:01", "172.16.20.10", 24, "172.16.20.1")  # type: ignore[arg-type]


def parsed(frame: bytes):
    pkt = packet.Packet(frame)
    return pkt.get_protocol(ethernet.ethernet), pkt.get_protocol(arp.arp), pkt.get_protocol(icmp.icmp)


def test_a_host_sends_off_subnet_traffic_to_its_gateway_and_the_rest_directly():
    host = routed_host(Wire())
    assert host.next_hop("172.16.10.10") == "172.16.20.1"
    assert host.next_hop("172.16.20.99") == "172.16.20.99"
    assert SimHost(Wire(), "h", "00:00:00:00:00:09", "10.0.0.9").next_hop("192.0.2.1") == "192.0.2.1"  # type: ignore[arg-type]


def test_an_echo_reply_off_subnet_waits_for_the_gateways_arp_reply_and_goes_to_its_mac():
    wire = Wire()
    host = routed_host(wire)
    router_mac = "0a:00:00:00:00:01"
    request = icmp_frame(8, router_mac, "172.16.10.10", host.mac, host.ip, 7, 1)
    host.receive(request)
    eth, question, _ = parsed(wire.from_hosts[-1])
    assert (eth.dst, question.opcode, question.dst_ip) == ("ff:ff:ff:ff:ff:ff", 1, "172.16.20.1")
    host.receive(arp_frame(2, router_mac, "172.16.20.1", host.mac, host.ip))
    eth, _, reply = parsed(wire.from_hosts[-1])
    assert (eth.dst, reply.type, reply.data.id) == (router_mac, 0, 7)
    assert host.arp_cache["172.16.20.1"] == router_mac
    host.receive(icmp_frame(8, router_mac, "172.16.10.10", host.mac, host.ip, 7, 2))
    eth, _, reply = parsed(wire.from_hosts[-1])
    assert (eth.dst, reply.data.seq, len(wire.from_hosts)) == (router_mac, 2, 3)  # no second ARP
