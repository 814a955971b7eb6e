"""Answers for rejected packets: a TCP RST, or an ICMP/ICMPv6 destination unreachable.

Pure functions from the parsed offending packet to the reply frame, addressed back to the
sender (MACs, addresses and ports swapped) with valid checksums. The ICMP error quotes the
offending IP header and the first bytes of its payload, as RFC 792 and RFC 4443 require.
"""

from __future__ import annotations

from typing import Any

from sdnlab.vnfs.packet import (
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_TCP,
    TCP_ACK,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    build_frame,
    ip_text,
    mac_text,
)

# reject_with -> (ICMPv4 code of type 3, ICMPv6 code of type 1)
_UNREACHABLE_CODES = {"port-unreachable": (3, 4), "host-unreachable": (1, 3), "admin-prohibited": (13, 1)}
_QUOTE_LIMIT = 548  # keep the ICMP error within 576 bytes of IPv4


def tcp_reset(packet: Any) -> bytes:
    """The RST that refuses ``packet`` (a TCP segment that is not itself a RST)."""
    flags = packet.tcp_flags
    if flags & TCP_ACK:
        seq, ack, out_flags = packet.tcp_ack, 0, TCP_RST
    else:
        length = packet.payload_len + (1 if flags & TCP_SYN else 0) + (1 if flags & TCP_FIN else 0)
        seq, ack, out_flags = 0, (packet.tcp_seq + length) & 0xFFFFFFFF, TCP_RST | TCP_ACK
    return build_frame(
        ip_src=ip_text(packet.ip_dst, packet.ip_version),
        ip_dst=ip_text(packet.ip_src, packet.ip_version),
        ip_proto=IPPROTO_TCP,
        l4_src=packet.l4_dst,
        l4_dst=packet.l4_src,
        tcp_flags=out_flags,
        tcp_seq=seq,
        tcp_ack=ack,
        eth_src=mac_text(packet.eth_dst),
        eth_dst=mac_text(packet.eth_src),
    )


def icmp_unreachable(packet: Any, reason: str = "port-unreachable") -> bytes:
    """The ICMP (or ICMPv6) destination-unreachable error for ``packet``."""
    v4_code, v6_code = _UNREACHABLE_CODES[reason]
    version = packet.ip_version
    quote = bytes(packet.frame[packet.l3_offset : packet.l3_offset + min(packet.ip_len, _QUOTE_LIMIT)])
    return build_frame(
        ip_src=ip_text(packet.ip_dst, version),
        ip_dst=ip_text(packet.ip_src, version),
        ip_proto=IPPROTO_ICMP if version == 4 else IPPROTO_ICMPV6,
        icmp_type=3 if version == 4 else 1,
        icmp_code=v4_code if version == 4 else v6_code,
        payload=quote,
        eth_src=mac_text(packet.eth_dst),
        eth_dst=mac_text(packet.eth_src),
    )


def reject_reply(packet: Any, reject_with: str = "auto") -> bytes | None:
    """The reply for a rejected packet; None when none is sent (a RST, an ICMP error, non-IP)."""
    if not packet.ip_version or not packet.eth_src:
        return None
    if packet.ip_proto == IPPROTO_TCP and packet.l4_offset >= 0:
        if packet.tcp_flags & TCP_RST:
            return None
        if reject_with in ("auto", "tcp-reset"):
            return tcp_reset(packet)
    if packet.icmp_type is not None and (packet.ip_version, packet.icmp_type) not in ((4, 8), (6, 128)):
        return None  # never answer an ICMP error (or other non-echo ICMP) with an error
    return icmp_unreachable(
        packet, "port-unreachable" if reject_with in ("auto", "tcp-reset") else reject_with
    )
