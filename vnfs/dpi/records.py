"""What the DPI reports: one ``FlowRecord`` per flow and ``RiskEvent``s for risky behaviour.

Both are frozen dataclasses with ``to_json()`` giving the JSON-lines form. A record's ``src`` is
the flow's client (the side that opened it, or the best guess for flows seen mid-stream).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Risk kinds.
CLEARTEXT_TELNET = "cleartext_telnet"  # a Telnet session: credentials travel in clear
TELNET_SCAN = "telnet_scan"  # one source opening TCP 23/2323 towards many hosts (Mirai-style)
UNUSUAL_DNS_SERVER = "unusual_dns_server"  # DNS to a server not on the allowed list / off port 53

_PROTO_NAMES = {6: "TCP", 17: "UDP", 132: "SCTP"}


def proto_name(ip_proto: int) -> str:
    """``TCP``/``UDP``/``SCTP`` or the protocol number as text."""
    return _PROTO_NAMES.get(ip_proto, str(ip_proto))


@dataclass(frozen=True)
class FlowRecord:
    """One bidirectional flow and what the DPI learnt about it."""

    proto: str
    src: str
    sport: int
    dst: str
    dport: int
    app: str  # nDPI's spelling; "Unknown" when nothing matched
    confidence: str  # "dpi", "expected", "port" or "" (Unknown)
    metadata: dict[str, Any]
    packets: int
    bytes: int
    packets_c2s: int
    packets_s2c: int
    bytes_c2s: int
    bytes_s2c: int
    first_seen: float
    last_seen: float
    risks: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (one JSON line per flow)."""
        return {
            "proto": self.proto,
            "src": self.src,
            "sport": self.sport,
            "dst": self.dst,
            "dport": self.dport,
            "app": self.app,
            "confidence": self.confidence,
            "metadata": self.metadata,
            "packets": self.packets,
            "bytes": self.bytes,
            "packets_c2s": self.packets_c2s,
            "packets_s2c": self.packets_s2c,
            "bytes_c2s": self.bytes_c2s,
            "bytes_s2c": self.bytes_s2c,
            "first_seen": round(self.first_seen, 6),
            "last_seen": round(self.last_seen, 6),
            "risks": list(self.risks),
        }

    def json_line(self) -> str:
        """The record as one line of JSON."""
        return json.dumps(self.to_json(), sort_keys=False, default=str)


@dataclass(frozen=True)
class RiskEvent:
    """Something a controller or firewall may act on, e.g. by quarantining ``host``."""

    ts: float
    kind: str  # CLEARTEXT_TELNET, TELNET_SCAN or UNUSUAL_DNS_SERVER
    host: str  # the host the risk is about (the client / scanning source)
    peer: str = ""  # the other end, when there is one (telnet or DNS server)
    detail: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON-ready dict."""
        return {
            "ts": round(self.ts, 6),
            "kind": self.kind,
            "host": self.host,
            "peer": self.peer,
            "detail": self.detail,
            "evidence": self.evidence,
        }
