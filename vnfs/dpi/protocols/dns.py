"""DNS over UDP and TCP (and its multicast relatives mDNS and LLMNR, which share the wire format).

A message is DNS when its header counts are plausible and its question section parses: labels
of 1..63 bytes ending in the root label, a name under 255 bytes, and a known class. Over TCP
the message carries a two-byte length prefix.

Which of DNS, MDNS and LLMNR it is depends on the *responder's* port only: the port a query is
sent to, or the port a response comes from (``responder_port``). 5353 is mDNS (multicast to
224.0.0.251 / ff02::fb, or a direct unicast query to 5353), 5355 is LLMNR, anything else is DNS.
The querier's port says nothing: a resolver queried from source port 5353 is still DNS. nDPI
4.2 decides the same way from the destination port of a query.
"""

from __future__ import annotations

import struct
from typing import Any

from sdnlab.vnfs.dpi import model as m
from sdnlab.vnfs.dpi.model import Context, Match, More, Result
from sdnlab.vnfs.dpi.protocols.base import DissectorBase

_QTYPES = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    35: "NAPTR",
    43: "DS",
    48: "DNSKEY",
    64: "SVCB",
    65: "HTTPS",
    252: "AXFR",
    255: "ANY",
}


MDNS_PORT = 5353
LLMNR_PORT = 5355


def responder_port(is_response: bool, ctx: Context) -> int:
    """The port of the side that answers: a query's destination, a response's source."""
    source, destination = (
        (ctx.client_port, ctx.server_port) if ctx.from_client else (ctx.server_port, ctx.client_port)
    )
    return source if is_response else destination


def app_for_port(port: int) -> str:
    """MDNS for a responder on 5353, LLMNR on 5355, else DNS."""
    return m.MDNS if port == MDNS_PORT else m.LLMNR if port == LLMNR_PORT else m.DNS


def read_name(data: bytes, pos: int, depth: int = 0) -> tuple[str, int] | None:
    """A (possibly compressed) domain name at ``pos``: (name, position after it) or None."""
    labels: list[str] = []
    total = 0
    end = -1
    for _ in range(128):
        if pos >= len(data):
            return None
        size = data[pos]
        if size == 0:
            return ".".join(labels), (end if end >= 0 else pos + 1)
        if size & 0xC0 == 0xC0:
            if pos + 1 >= len(data) or depth > 8:
                return None
            target = ((size & 0x3F) << 8) | data[pos + 1]
            if end < 0:
                end = pos + 2
            if target >= pos:
                return None
            rest = read_name(data, target, depth + 1)
            if rest is None:
                return None
            name = ".".join([*labels, rest[0]]) if rest[0] else ".".join(labels)
            return name, end
        if size > 63:
            return None
        label = data[pos + 1 : pos + 1 + size]
        if len(label) < size:
            return None
        total += size + 1
        if total > 255:
            return None
        labels.append(label.decode("ascii", "replace"))
        pos += 1 + size
    return None


def parse_message(msg: bytes) -> dict[str, Any] | None:
    """Metadata of a DNS message, or None when it does not have DNS structure."""
    if len(msg) < 12:
        return None
    _ident, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", msg)
    opcode = (flags >> 11) & 0xF
    response = bool(flags & 0x8000)
    if opcode not in (0, 1, 2, 4, 5) or flags & 0x0040:  # the Z bit must be zero
        return None
    if qd > 4 or an > 256 or ns > 256 or ar > 256 or (not response and an > 8):
        return None
    if qd == 0:
        if response or an + ns + ar == 0:
            return None
        return {"response": response} if ar or an else None
    parsed = read_name(msg, 12)
    if parsed is None:
        return None
    name, pos = parsed
    if pos + 4 > len(msg):
        return None
    qtype, qclass = struct.unpack_from("!HH", msg, pos)
    if qclass & 0x7FFF not in (1, 3, 4, 255) or qtype == 0:
        return None
    metadata: dict[str, Any] = {"query": name, "qtype": _QTYPES.get(qtype, qtype)}
    if response:
        metadata["rcode"] = flags & 0xF
        metadata["response"] = True
    return metadata


class Dns(DissectorBase):
    """DNS messages over UDP or TCP; a responder on port 5353 is reported as MDNS, on 5355 as LLMNR."""

    name = m.DNS
    ports = frozenset({53, MDNS_PORT, LLMNR_PORT})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        if ctx.transport == m.TCP:
            stream = ctx.stream
            if len(stream) < 2:
                return More()
            length = (stream[0] << 8) | stream[1]
            if length < 12:
                return None
            if len(stream) < 14:
                return More()
            message = stream[2 : 2 + length]
        else:
            message = payload
        metadata = parse_message(message)
        if metadata is None:
            return None
        if metadata.get("response") and "query" not in metadata:
            return None
        is_response = bool(message[2] & 0x80)
        app = app_for_port(responder_port(is_response, ctx))
        metadata.pop("response", None)
        return Match(app, metadata, done="rcode" in metadata)

    def enrich(self, payload: bytes, ctx: Context, metadata: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Add the response code from the answer."""
        if ctx.from_client:
            return metadata, False
        message = ctx.stream[2:] if ctx.transport == m.TCP else payload
        answer = parse_message(message)
        if answer is None or "rcode" not in answer:
            return metadata, False
        return {**metadata, "rcode": answer["rcode"]}, True
