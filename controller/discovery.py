"""Frames the built-in controller builds or reads itself: LLDP probes and proxy-ARP replies."""

from __future__ import annotations

import struct
from functools import lru_cache

from os_ken.lib.packet import arp, ethernet, lldp, packet

LLDP_DST = lldp.LLDP_MAC_NEAREST_BRIDGE
PROBE_SRC_MAC = "02:5d:1a:b0:00:01"
CHASSIS_PREFIX = b"sdnlab:"


@lru_cache(maxsize=16384)
def lldp_probe(dpid: int, port_no: int) -> bytes:
    """An LLDP frame saying 'sent by ``dpid`` out of ``port_no``'."""
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=LLDP_DST, src=PROBE_SRC_MAC, ethertype=0x88CC))
    pkt.add_protocol(
        lldp.lldp(
            [
                lldp.ChassisID(
                    subtype=lldp.ChassisID.SUB_LOCALLY_ASSIGNED, chassis_id=CHASSIS_PREFIX + b"%016x" % dpid
                ),
                lldp.PortID(subtype=lldp.PortID.SUB_PORT_COMPONENT, port_id=struct.pack("!I", port_no)),
                lldp.TTL(ttl=120),
                lldp.End(),
            ]
        )
    )
    pkt.serialize()
    return bytes(pkt.data)


def parse_lldp_probe(data: bytes) -> tuple[int, int] | None:
    """``(dpid, port_no)`` of one of our LLDP probes, or None for anything else."""
    try:
        probe = packet.Packet(data).get_protocol(lldp.lldp)
    except Exception:  # a malformed frame is simply not one of ours
        return None
    if probe is None or len(probe.tlvs) < 2:
        return None
    chassis, port = probe.tlvs[0], probe.tlvs[1]
    chassis_id = getattr(chassis, "chassis_id", b"")
    port_id = getattr(port, "port_id", b"")
    if not chassis_id.startswith(CHASSIS_PREFIX) or len(port_id) != 4:
        return None
    try:
        dpid = int(chassis_id[len(CHASSIS_PREFIX) :], 16)
    except ValueError:
        return None
    return dpid, struct.unpack("!I", port_id)[0]


def parse_arp(data: bytes):
    """The ARP header of a frame, or None."""
    try:
        return packet.Packet(data).get_protocol(arp.arp)
    except Exception:
        return None


def parse_ipv4_src(data: bytes) -> str | None:
    """The IPv4 source address of an untagged IPv4 frame, or None."""
    if len(data) >= 34 and data[12:14] == b"\x08\x00":
        return ".".join(str(b) for b in data[26:30])
    return None


def arp_reply(requester_mac: str, requester_ip: str, target_mac: str, target_ip: str) -> bytes:
    """The ARP reply ``target_ip is-at target_mac`` addressed to the requester."""
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=requester_mac, src=target_mac, ethertype=0x0806))
    pkt.add_protocol(
        arp.arp(
            opcode=arp.ARP_REPLY,
            src_mac=target_mac,
            src_ip=target_ip,
            dst_mac=requester_mac,
            dst_ip=requester_ip,
        )
    )
    pkt.serialize()
    return bytes(pkt.data)
