"""Per-source limits on new connections: token buckets kept in a bounded flow table.

Each source address owns a bucket of ``burst`` tokens refilled at ``rate`` per second; a new
connection takes one token, and a source with an empty bucket is over its limit. This is the
defence against Mirai-style scanners that open connections to TCP 23/2323 across a subnet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sdnlab.vnfs.firewall.rules import Cidr, to_cidrs, to_port_ranges, to_proto
from sdnlab.vnfs.framework.config import Fields, to_choice, to_float, to_int, to_str
from sdnlab.vnfs.framework.flowtable import FlowTable


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Which new connections are limited, how fast, and what happens above the limit."""

    name: str
    rate: float
    burst: int
    proto: int | None = None
    dport: tuple[tuple[int, int], ...] | None = None
    dst: tuple[Cidr, ...] | None = None
    action: str = "drop"
    line: int = 0

    def applies(self, packet: Any) -> bool:
        """True when a new connection of ``packet`` counts against this limit."""
        if self.proto is not None and packet.ip_proto != self.proto:
            return False
        if self.dport is not None:
            port = packet.l4_dst
            if not any(lo <= port <= hi for lo, hi in self.dport):
                return False
        return not (
            self.dst is not None and not any(c.contains(packet.ip_version, packet.ip_dst) for c in self.dst)
        )


class SourceBuckets:
    """Token buckets per source address, at most ``max_sources`` of them (LRU beyond)."""

    def __init__(self, limit: RateLimit, max_sources: int = 65536):
        self.limit = limit
        self.table = FlowTable(max_sources, idle_timeout=max(60.0, limit.burst / max(limit.rate, 1e-9)))
        self.exceeded = 0

    def allow(self, source: int, now: float) -> bool:
        """Take a token for a new connection from ``source``; False when it has none left."""
        bucket = self.table.get(source, now)
        limit = self.limit
        if bucket is None:
            self.table.put(source, [limit.burst - 1.0, now], now)
            return True
        tokens = min(float(limit.burst), bucket[0] + (now - bucket[1]) * limit.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return True
        bucket[0] = tokens
        self.exceeded += 1
        return False


def parse_rate_limit(fields: Fields, index: int) -> RateLimit:
    """One rate limit from its YAML mapping (errors recorded on ``fields``)."""
    limit = RateLimit(
        name=fields.get("name", to_str, f"limit{index}"),
        rate=fields.get("rate", to_float(0.0), what="expected new connections per second (a number >= 0)"),
        burst=fields.get("burst", to_int(1), 1),
        proto=fields.get("proto", to_proto, None),
        dport=fields.get("dport", to_port_ranges, None, "expected a port, range or list"),
        dst=fields.get("dst", to_cidrs, None, "expected an address, CIDR or list of them"),
        action=fields.get("action", to_choice("drop", "reject"), "drop"),
        line=fields.line,
    )
    fields.reject_unknown()
    return limit
