"""Pure helpers of the load balancer's packet path: ARP answers for the VIP and flow hashes.

The NAT rewrites themselves use ``sdnlab.vnfs.packet.rewrite``, which fixes the IPv4 and
TCP/UDP checksums incrementally: client -> VIP packets get the backend's address, port and
MAC (DNAT); backend -> client packets get the VIP's address, port and MAC back (the reverse
translation), so the client only ever sees the VIP.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

_ARP = struct.Struct("!HHBBH6s4s6s4s")
ARP_REQUEST, ARP_REPLY = 1, 2


def arp_request_for(packet: Any) -> tuple[bytes, bytes, bytes] | None:
    """(sender MAC, sender IP, target IP) of an ARP request frame, or None."""
    if packet.eth_type != 0x0806:
        return None
    frame, at = packet.frame, packet.l3_offset
    if len(frame) < at + 28:
        return None
    htype, ptype, hlen, plen, op, sha, spa, _tha, tpa = _ARP.unpack_from(frame, at)
    if htype != 1 or ptype != 0x0800 or hlen != 6 or plen != 4 or op != ARP_REQUEST:
        return None
    return sha, spa, tpa


def arp_reply(owner_mac: bytes, owner_ip: bytes, asker_mac: bytes, asker_ip: bytes) -> bytes:
    """An ARP reply telling ``asker`` that ``owner_ip`` is at ``owner_mac``."""
    return (
        asker_mac
        + owner_mac
        + b"\x08\x06"
        + _ARP.pack(1, 0x0800, 6, 4, ARP_REPLY, owner_mac, owner_ip, asker_mac, asker_ip)
    )


def flow_hash(packet: Any) -> int:
    """A process-independent hash of the client end (address, port) and protocol of a flow."""
    return zlib.crc32(b"%d:%d:%d" % (packet.ip_proto, packet.ip_src, packet.l4_src))


# ----- per-flow NAT with precomputed checksum deltas (RFC 1624) ------------------------------


def checksum_delta(old: bytes, new: bytes) -> int:
    """The one's-complement amount to add to a checksum's complement when ``old`` becomes ``new``
    (both of the same even length): the sum of the complemented old words and the new words."""
    count = len(old) // 2
    words = struct.unpack(f"!{count}H{count}H", old + new)
    return 0xFFFF * count - sum(words[:count]) + sum(words[count:])


def apply_delta(checksum: int, delta: int) -> int:
    """A checksum updated by ``checksum_delta`` (eqn. 3 of RFC 1624)."""
    total = (~checksum & 0xFFFF) + delta
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class NatRewrite:
    """One direction of a flow's translation: new address at ``ip_at`` (12 = source, 16 =
    destination, from the IP header start), new port at ``port_at`` (0 = source, 2 =
    destination, from the L4 header start), optional new MAC at ``mac_at`` (0 = destination,
    6 = source); both checksums are patched with deltas computed once per flow."""

    __slots__ = ("ip", "ip_at", "ip_delta", "l4_delta", "mac", "mac_at", "port", "port_at")

    def __init__(
        self,
        ip_at: int,
        old_ip: bytes,
        new_ip: bytes,
        port_at: int,
        old_port: int,
        new_port: int,
        mac_at: int,
        mac: bytes | None,
    ):
        self.ip_at, self.ip = ip_at, new_ip
        self.port_at, self.port = port_at, new_port.to_bytes(2, "big")
        self.mac_at, self.mac = mac_at, mac
        self.ip_delta = checksum_delta(old_ip, new_ip)
        self.l4_delta = self.ip_delta + checksum_delta(old_port.to_bytes(2, "big"), self.port)

    def apply(self, packet: Any) -> bytes:
        """The translated frame of ``packet`` (an IPv4 TCP/UDP packet with its L4 header)."""
        buf = bytearray(packet.frame)
        if self.mac is not None:
            buf[self.mac_at : self.mac_at + 6] = self.mac
        l3 = packet.l3_offset
        at = l3 + self.ip_at
        buf[at : at + 4] = self.ip
        csum = apply_delta((buf[l3 + 10] << 8) | buf[l3 + 11], self.ip_delta)
        buf[l3 + 10] = csum >> 8
        buf[l3 + 11] = csum & 0xFF
        l4 = packet.l4_offset
        at = l4 + self.port_at
        buf[at : at + 2] = self.port
        csum_at = l4 + (16 if packet.ip_proto == 6 else 6)
        if csum_at + 2 <= packet.payload_end:
            old = (buf[csum_at] << 8) | buf[csum_at + 1]
            if packet.ip_proto == 6 or old:  # a zero UDP checksum means "none": keep it
                csum = apply_delta(old, self.l4_delta)
                if packet.ip_proto == 17 and csum == 0:
                    csum = 0xFFFF
                buf[csum_at] = csum >> 8
                buf[csum_at + 1] = csum & 0xFF
        return bytes(buf)
