"""Connection tracking: classify each packet as NEW, ESTABLISHED, RELATED or INVALID.

Semantics follow Linux conntrack, simplified:

- TCP: only a SYN (no ACK/RST/FIN) may open a connection (NEW); a reply must start with
  SYN+ACK; any other packet without a connection is INVALID (unless ``tcp_pickup`` accepts
  mid-stream connections, as after a firewall restart). RST closes at once; after FINs from
  both sides the connection lingers ``close_timeout`` seconds.
- UDP and other protocols: the first packet is NEW, anything after in either direction is
  ESTABLISHED.
- ICMP echo: a request is NEW (keyed by its identifier), the matching reply ESTABLISHED, an
  unmatched reply INVALID. ICMP errors (unreachable, time exceeded, ...) whose quoted packet
  belongs to a tracked connection are RELATED, otherwise INVALID.

Connections are created only by ``commit`` (after the rules accepted the NEW packet), in
bounded flow tables per protocol class with their own idle timeouts, so a million-flow scan
evicts old entries instead of growing memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sdnlab.vnfs.framework.flowtable import FlowTable
from sdnlab.vnfs.packet import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, FlowKey, icmp_embedded

NEW = "new"
ESTABLISHED = "established"
RELATED = "related"
INVALID = "invalid"

# TCP connection phases
SYN_SENT, SYN_RECV, OPEN, CLOSING = 0, 1, 2, 3
_ICMP_ECHO = {(4, 8): 0, (6, 128): 129}  # (ip version, request type) -> reply type
_ICMP_REPLY = {(4, 0), (6, 129)}
_ICMP_ERRORS = {4: frozenset((3, 4, 5, 11, 12)), 6: frozenset((1, 2, 3, 4))}


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Idle timeouts in seconds per protocol class, and the linger after a TCP close."""

    tcp: float = 3600.0
    tcp_unreplied: float = 30.0
    udp: float = 60.0
    icmp: float = 30.0
    other: float = 600.0
    close: float = 10.0


class Conn:
    """One tracked connection: who opened it and the TCP phase."""

    __slots__ = (
        "closed_at",
        "fin_orig",
        "fin_reply",
        "in_port",
        "offloaded",
        "orig_sport",
        "orig_src",
        "phase",
    )

    def __init__(self, orig_src: int, orig_sport: int, in_port: str, phase: int = OPEN):
        self.orig_src = orig_src
        self.orig_sport = orig_sport
        self.phase = phase
        self.fin_orig = False
        self.fin_reply = False
        self.closed_at = 0.0
        self.in_port = in_port
        self.offloaded = False


def icmp_id(packet: Any) -> int:
    """The identifier of an ICMP echo request/reply (0 when the header is short)."""
    at = packet.l4_offset + 4
    frame = packet.frame
    if packet.l4_offset < 0 or len(frame) < at + 2:
        return 0
    return (frame[at] << 8) | frame[at + 1]


def conn_key(packet: Any) -> FlowKey:
    """The direction-independent key of the packet's connection (ICMP echo keyed by its id)."""
    if packet.icmp_type is not None:
        ident = icmp_id(packet)
        return FlowKey(packet.ip_proto, packet.ip_src, ident, packet.ip_dst, ident).canonical()
    return packet.bidi_key()


class ConnTracker:
    """Connection tables and the classification state machine."""

    def __init__(self, max_flows: int = 262144, timeouts: Timeouts = Timeouts(), tcp_pickup: bool = False):
        self.timeouts = timeouts
        self.tcp_pickup = tcp_pickup
        self.tcp = FlowTable(max_flows, timeouts.tcp)
        self.udp = FlowTable(max_flows, timeouts.udp)
        self.icmp = FlowTable(max(1024, max_flows // 4), timeouts.icmp)
        self.other = FlowTable(max(1024, max_flows // 4), timeouts.other)

    def __len__(self) -> int:
        return len(self.tcp) + len(self.udp) + len(self.icmp) + len(self.other)

    def table_for(self, proto: int) -> FlowTable:
        """The table that holds connections of IP protocol ``proto``."""
        if proto == 6:
            return self.tcp
        if proto == 17:
            return self.udp
        if proto == 1 or proto == 58:
            return self.icmp
        return self.other

    def classify(self, packet: Any, now: float) -> tuple[str, Conn | None]:
        """The conntrack state of ``packet`` and its connection (updated), without creating one."""
        proto = packet.ip_proto
        if proto == 6:
            return self._tcp(packet, now)
        if packet.icmp_type is not None:
            return self._icmp(packet, now)
        conn = self.table_for(proto).get(packet.bidi_key(), now)
        return (NEW, None) if conn is None else (ESTABLISHED, conn)

    def commit(self, packet: Any, in_port: str, now: float) -> Conn | None:
        """Start tracking the connection of an accepted NEW packet (not for one-off ICMP)."""
        proto = packet.ip_proto
        if packet.icmp_type is not None and (packet.ip_version, packet.icmp_type) not in _ICMP_ECHO:
            return None
        if proto == 6:
            syn_only = packet.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN
            conn = Conn(packet.ip_src, packet.l4_src, in_port, SYN_SENT if syn_only else OPEN)
        else:
            conn = Conn(packet.ip_src, packet.l4_src, in_port)
        self.table_for(proto).put(conn_key(packet), conn, now)
        return conn

    def expire(self, now: float) -> int:
        """Remove idle connections from every table; returns how many went."""
        return sum(t.expire(now) for t in (self.tcp, self.udp, self.icmp, self.other))

    # ----- per protocol ------------------------------------------------------------------

    def _tcp(self, packet: Any, now: float) -> tuple[str, Conn | None]:
        key = packet.bidi_key()
        table = self.tcp
        conn = table.get(key, now)
        flags = packet.tcp_flags
        if conn is None:
            if flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN) == TCP_SYN:
                return NEW, None
            if self.tcp_pickup and not flags & (TCP_RST | TCP_SYN):
                return NEW, None
            return INVALID, None
        original = packet.ip_src == conn.orig_src and packet.l4_src == conn.orig_sport
        phase = conn.phase
        if flags & TCP_RST:
            table.pop(key)
            return ESTABLISHED, conn
        if phase == OPEN:
            if flags & TCP_FIN:
                if original:
                    conn.fin_orig = True
                else:
                    conn.fin_reply = True
                if conn.fin_orig and conn.fin_reply:
                    conn.phase = CLOSING
                    conn.closed_at = now
            elif flags & TCP_SYN and not flags & TCP_ACK:
                return INVALID, conn  # a SYN inside an open connection
            return ESTABLISHED, conn
        if phase == SYN_SENT:
            if original:
                if flags & (TCP_SYN | TCP_ACK) == TCP_SYN:
                    return ESTABLISHED, conn  # retransmitted SYN
                return INVALID, conn
            if flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK:
                conn.phase = SYN_RECV
                return ESTABLISHED, conn
            return INVALID, conn
        if phase == SYN_RECV:
            if original and flags & TCP_ACK and not flags & TCP_SYN:
                conn.phase = OPEN
                if flags & TCP_FIN:
                    conn.fin_orig = True
            return ESTABLISHED, conn
        # CLOSING: both sides sent FIN; let the last ACKs through, then a new SYN may reuse the tuple
        if now - conn.closed_at > self.timeouts.close or (
            flags & (TCP_SYN | TCP_ACK) == TCP_SYN and original
        ):
            table.pop(key)
            if flags & (TCP_SYN | TCP_ACK) == TCP_SYN:
                return NEW, None
            return INVALID, None
        return ESTABLISHED, conn

    def _icmp(self, packet: Any, now: float) -> tuple[str, Conn | None]:
        version, kind = packet.ip_version, packet.icmp_type
        if (version, kind) in _ICMP_ECHO:
            conn = self.icmp.get(conn_key(packet), now)
            return (NEW, None) if conn is None else (ESTABLISHED, conn)
        if (version, kind) in _ICMP_REPLY:
            conn = self.icmp.get(conn_key(packet), now)
            return (INVALID, None) if conn is None else (ESTABLISHED, conn)
        if kind in _ICMP_ERRORS.get(version, ()):
            inner = icmp_embedded(packet)
            if inner is None or inner.ip_version != version:
                return INVALID, None
            if inner.icmp_type is not None and inner.l4_offset >= 0:
                key = conn_key(inner)
            else:
                key = inner.bidi_key()
            conn = self.table_for(inner.ip_proto).get(key, now)
            return (INVALID, None) if conn is None else (RELATED, conn)
        return NEW, None  # informational ICMP (router advertisements, ...): judged by the rules
