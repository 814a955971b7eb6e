"""Encrypted transports: TLS over TCP (with SNI, ALPN and version) and QUIC over UDP.

TLS is recognised from its record layer: a handshake record holding a ClientHello or a
ServerHello, or, for flows captured mid-stream, a run of well-formed records. Handshake
messages split over several TCP segments are read from the direction's reassembled stream
(``ctx.stream``). QUIC is recognised from its long header (IETF versions, drafts and Google
QUIC ``Qxxx``); the SNI comes from Google QUIC's cleartext CHLO or, for IETF QUIC, from the
ClientHello in the client's Initial packet (``quic_initial``).
"""

from __future__ import annotations

import struct
from typing import Any

from sdnlab.vnfs.dpi import model as m
from sdnlab.vnfs.dpi.model import Context, Match, More, Result
from sdnlab.vnfs.dpi.protocols.base import DissectorBase
from sdnlab.vnfs.dpi.protocols.quic_initial import client_hello

_VERSIONS = {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
_RECORD_TYPES = frozenset((20, 21, 22, 23, 24))
_MAX_RECORD = 16384 + 2048


def _version_text(value: int) -> str:
    if value in _VERSIONS:
        return _VERSIONS[value]
    if value & 0xFF00 == 0x7F00 or value & 0xFF00 == 0xFE00:
        return f"TLSv1.3-draft-{value & 0xFF}" if value & 0xFF00 == 0x7F00 else f"DTLS-{value:#06x}"
    return f"{value:#06x}"


def _hello(body: bytes, client: bool) -> dict[str, Any] | None:
    """Fields of a ClientHello/ServerHello body (after the 4-byte handshake header)."""
    try:
        legacy = struct.unpack_from("!H", body, 0)[0]
        pos = 2 + 32
        sid_len = body[pos]
        pos += 1 + sid_len
        if client:
            suites = struct.unpack_from("!H", body, pos)[0]
            pos += 2 + suites
            pos += 1 + body[pos]
        else:
            pos += 2 + 1
        info: dict[str, Any] = {"version": _version_text(legacy)}
        if pos + 2 > len(body):
            return info
        ext_end = pos + 2 + struct.unpack_from("!H", body, pos)[0]
        pos += 2
        while pos + 4 <= min(ext_end, len(body)):
            ext_type, ext_len = struct.unpack_from("!HH", body, pos)
            data = body[pos + 4 : pos + 4 + ext_len]
            pos += 4 + ext_len
            if ext_type == 0 and client and len(data) >= 5:  # server_name
                name_len = struct.unpack_from("!H", data, 3)[0]
                info["sni"] = data[5 : 5 + name_len].decode("ascii", "replace")
            elif ext_type == 16 and len(data) >= 2:  # ALPN
                alpn, at = [], 2
                while at < len(data):
                    size = data[at]
                    alpn.append(data[at + 1 : at + 1 + size].decode("ascii", "replace"))
                    at += 1 + size
                info["alpn"] = alpn
            elif ext_type == 43:  # supported_versions
                if client and data:
                    offered = [
                        struct.unpack_from("!H", data, 1 + 2 * i)[0] for i in range((len(data) - 1) // 2)
                    ]
                    known = [v for v in offered if v in _VERSIONS]
                    if known:
                        info["max_version"] = _VERSIONS[max(known)]
                elif not client and len(data) >= 2:
                    info["version"] = _version_text(struct.unpack_from("!H", data)[0])
        return info
    except (struct.error, IndexError):
        return None


def _records_well_formed(data: bytes, need: int = 1) -> bool:
    """``data`` begins with at least ``need`` well-formed TLS records (the last may be cut)."""
    pos = count = 0
    while pos + 5 <= len(data):
        kind, major, minor, length = (
            data[pos],
            data[pos + 1],
            data[pos + 2],
            (data[pos + 3] << 8) | data[pos + 4],
        )
        if kind not in _RECORD_TYPES or major != 3 or minor > 4 or length == 0 or length > _MAX_RECORD:
            return False
        count += 1
        pos += 5 + length
    return count >= need


class Tls(DissectorBase):
    """TLS from its handshake (SNI, ALPN, negotiated version) or from well-formed records."""

    name = m.TLS
    transports = frozenset({m.TCP})
    ports = frozenset({443, 8443, 993, 995, 465, 636, 853, 5061, 8883, 5671})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        stream = ctx.stream
        if len(stream) < 5:
            return More() if stream[:1] == b"\x16" else None
        if stream[0] == 22 and stream[1] == 3 and stream[2] <= 4:
            length = (stream[3] << 8) | stream[4]
            if length > _MAX_RECORD or length < 4:
                return None
            kind = stream[5] if len(stream) > 5 else None
            if kind not in (1, 2, None, 11, 12, 14, 16):
                return None
            if len(stream) < 5 + min(length, 1024) and len(stream) < 8192:
                return More()
            if kind in (1, 2):
                info = _hello(stream[9 : 5 + length], client=kind == 1)
                if info is None and len(stream) >= 5 + length:
                    return None
                metadata = info or {}
                if kind == 1:
                    metadata = {("client_version" if k == "version" else k): v for k, v in metadata.items()}
                return Match(m.TLS, metadata, done=kind == 2)
            return Match(m.TLS, {}, done=False)
        if _records_well_formed(stream, need=1) and stream[0] in (20, 21, 23):
            return Match(m.TLS, {"handshake_seen": False}, done=True)
        return None

    def enrich(self, payload: bytes, ctx: Context, metadata: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Read the ServerHello for the negotiated version and ALPN."""
        stream = ctx.stream
        if ctx.from_client or len(stream) < 10 or stream[0] != 22 or stream[5] != 2:
            return metadata, False
        info = _hello(stream[9:], client=False)
        if info is None:
            return metadata, True
        merged = {**metadata, **info}
        return merged, True


# QUIC versions whose long header the dissector accepts: v1, v2, IETF drafts, mvfst.
_QUIC_VERSIONS = {0x00000001: "v1", 0x6B3343CF: "v2"}


def _quic_version(value: int, raw: bytes) -> str | None:
    if value in _QUIC_VERSIONS:
        return _QUIC_VERSIONS[value]
    if value & 0xFFFFFF00 == 0xFF000000:
        return f"draft-{value & 0xFF}"
    if value & 0xFFFFFFF0 == 0xFACEB000:
        return "mvfst"
    if raw[:1] in (b"Q", b"T") and raw[1:4].isdigit():
        return raw.decode()
    return None


class Quic(DissectorBase):
    """QUIC: an IETF long-header packet with a known version, or Google QUIC's public header."""

    name = m.QUIC
    transports = frozenset({m.UDP})
    ports = frozenset({443, 80, 6121, 4433})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        if len(payload) < 13:
            return None
        first = payload[0]
        if first & 0x80:  # IETF long header (also gQUIC Q046+)
            raw = payload[1:5]
            version = _quic_version(struct.unpack_from("!I", raw)[0], raw)
            if version is None:
                return None
            dcid_len = payload[5]
            if dcid_len > 20 or 6 + dcid_len >= len(payload) or payload[6 + dcid_len] > 20:
                return None
            if ctx.from_client and version in ("v1", "v2") and len(payload) < 1200 and ctx.index == 0:
                return None  # a client's first Initial is padded to at least 1200 bytes
            metadata: dict[str, Any] = {"version": version}
            if ctx.from_client:
                hello = client_hello(payload)
                if hello is not None and hello[:1] == b"\x01" and len(hello) > 4:
                    info = _hello(hello[4:], client=True) or {}
                    metadata.update({k: v for k, v in info.items() if k in ("sni", "alpn")})
            return Match(m.QUIC, metadata)
        # Google QUIC (<= Q043) public header: flags, optional 8-byte connection id, version.
        if first & 0x89 == 0x08 and ctx.from_client and _looks_encrypted(payload[9:73]):
            # A data packet without version: the client repeats its 8-byte connection id.
            cid = payload[1:9]
            if ctx.scratch == cid:
                return Match(m.QUIC, {"version": "gQUIC"})
            return More(scratch=cid) if ctx.index < 3 else None
        if not ctx.from_client and ctx.scratch is not None and first & 0x80 == 0:
            return More(scratch=ctx.scratch)
        if first & 0x01 and not first & 0x40:
            at = 9 if first & 0x08 else 1
            raw = payload[at : at + 4]
            if len(raw) == 4 and raw[:1] == b"Q" and raw[1:4].isdigit():
                metadata = {"version": raw.decode()}
                sni = _gquic_sni(payload)
                if sni:
                    metadata["sni"] = sni
                return Match(m.QUIC, metadata)
        return None


def _looks_encrypted(data: bytes) -> bool:
    """Ciphertext-like: plenty of bytes above 0x7F (text protocols have none)."""
    return len(data) >= 16 and sum(1 for b in data if b > 0x7F) * 5 >= len(data)


def _gquic_sni(payload: bytes) -> str | None:
    """The SNI tag of a Google QUIC CHLO message, which travels in clear."""
    at = payload.find(b"CHLO")
    if at < 0 or at + 8 > len(payload):
        return None
    try:
        count = struct.unpack_from("<H", payload, at + 4)[0]
        table = at + 8
        values = table + 8 * count
        start = 0
        for i in range(count):
            tag = payload[table + 8 * i : table + 8 * i + 4]
            end = struct.unpack_from("<I", payload, table + 8 * i + 4)[0]
            if tag == b"SNI\0":
                return payload[values + start : values + end].decode("ascii", "replace")
            start = end
    except struct.error:
        return None
    return None
