"""Synthetic conversations (whole TCP sessions, UDP exchanges) as Ethernet frames, for tests and
benchmarks."""

from __future__ import annotations

from sdnlab.vnfs import packet as pk


def tcp_conversation(
    client: str, server: str, cport: int, sport: int, exchanges: list[tuple[str, bytes]]
) -> list[bytes]:
    """A handshake then ``("c", payload)``/``("s", payload)`` segments with consistent sequence numbers."""
    cseq, sseq = 1000, 5000
    frames = [
        pk.build_frame(
            ip_src=client,
            ip_dst=server,
            ip_proto=6,
            l4_src=cport,
            l4_dst=sport,
            tcp_flags=pk.TCP_SYN,
            tcp_seq=cseq - 1,
        ),
        pk.build_frame(
            ip_src=server,
            ip_dst=client,
            ip_proto=6,
            l4_src=sport,
            l4_dst=cport,
            tcp_flags=pk.TCP_SYN | pk.TCP_ACK,
            tcp_seq=sseq - 1,
            tcp_ack=cseq,
        ),
        pk.build_frame(
            ip_src=client,
            ip_dst=server,
            ip_proto=6,
            l4_src=cport,
            l4_dst=sport,
            tcp_flags=pk.TCP_ACK,
            tcp_seq=cseq,
            tcp_ack=sseq,
        ),
    ]
    for side, payload in exchanges:
        if side == "c":
            frames.append(
                pk.build_frame(
                    ip_src=client,
                    ip_dst=server,
                    ip_proto=6,
                    l4_src=cport,
                    l4_dst=sport,
                    tcp_flags=pk.TCP_ACK | pk.TCP_PSH,
                    tcp_seq=cseq,
                    tcp_ack=sseq,
                    payload=payload,
                )
            )
            cseq += len(payload)
        else:
            frames.append(
                pk.build_frame(
                    ip_src=server,
                    ip_dst=client,
                    ip_proto=6,
                    l4_src=sport,
                    l4_dst=cport,
                    tcp_flags=pk.TCP_ACK | pk.TCP_PSH,
                    tcp_seq=sseq,
                    tcp_ack=cseq,
                    payload=payload,
                )
            )
            sseq += len(payload)
    return frames


def udp_exchange(
    client: str, server: str, cport: int, sport: int, exchanges: list[tuple[str, bytes]]
) -> list[bytes]:
    """UDP datagrams ``("c", payload)`` client->server and ``("s", payload)`` back."""
    frames = []
    for side, payload in exchanges:
        if side == "c":
            frames.append(
                pk.build_frame(
                    ip_src=client, ip_dst=server, ip_proto=17, l4_src=cport, l4_dst=sport, payload=payload
                )
            )
        else:
            frames.append(
                pk.build_frame(
                    ip_src=server, ip_dst=client, ip_proto=17, l4_src=sport, l4_dst=cport, payload=payload
                )
            )
    return frames
