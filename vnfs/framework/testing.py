"""Frame builders and helpers for testing VNFs without a network (used by sdnlab's own tests;
researchers can use them in theirs): ``tcp``, ``udp``, ``icmp`` build valid Ethernet frames,
``handshake`` runs a TCP three-way handshake through a VNF."""

from __future__ import annotations

from sdnlab.vnfs.packet import IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, TCP_ACK, TCP_SYN, build_frame

CLIENT_MAC = "02:00:00:00:00:01"
SERVER_MAC = "02:00:00:00:00:02"


def tcp(src, sport, dst, dport, flags=TCP_ACK, payload=b"", seq=1000, ack=0):
    """A TCP frame from src:sport to dst:dport."""
    return build_frame(
        ip_src=src,
        ip_dst=dst,
        ip_proto=IPPROTO_TCP,
        l4_src=sport,
        l4_dst=dport,
        tcp_flags=flags,
        tcp_seq=seq,
        tcp_ack=ack,
        payload=payload,
        eth_src=CLIENT_MAC,
        eth_dst=SERVER_MAC,
    )


def udp(src, sport, dst, dport, payload=b"x"):
    """A UDP frame."""
    return build_frame(
        ip_src=src,
        ip_dst=dst,
        ip_proto=IPPROTO_UDP,
        l4_src=sport,
        l4_dst=dport,
        payload=payload,
        eth_src=CLIENT_MAC,
        eth_dst=SERVER_MAC,
    )


def icmp(src, dst, type_=8, code=0, ident=7, seq=1, payload=b""):
    """An ICMP frame (echo request by default)."""
    return build_frame(
        ip_src=src,
        ip_dst=dst,
        ip_proto=IPPROTO_ICMP,
        icmp_type=type_,
        icmp_code=code,
        l4_src=ident,
        l4_dst=seq,
        payload=payload,
        eth_src=CLIENT_MAC,
        eth_dst=SERVER_MAC,
    )


def handshake(vnf, client, cport, server, sport, now=1.0):
    """Run SYN, SYN-ACK, ACK through ``vnf`` (client on inside); returns the three verdicts."""
    return (
        vnf.process(tcp(client, cport, server, sport, TCP_SYN), "inside", now),
        vnf.process(tcp(server, sport, client, cport, TCP_SYN | TCP_ACK), "outside", now),
        vnf.process(tcp(client, cport, server, sport, TCP_ACK), "inside", now),
    )
