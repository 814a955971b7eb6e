"""Helpers shared by the dissectors: a base class and small byte-reading utilities."""

from __future__ import annotations

from typing import Any

from sdnlab.vnfs.dpi.model import Context, Result


class DissectorBase:
    """Default behaviour for a dissector: no enrichment, no ports, both transports."""

    name = "?"
    transports: frozenset[int] = frozenset({6, 17})
    ports: frozenset[int] = frozenset()

    def detect(self, payload: bytes, ctx: Context) -> Result:  # pragma: no cover - overridden
        """Decide from one payload whether the flow is this protocol."""
        raise NotImplementedError

    def enrich(self, payload: bytes, ctx: Context, metadata: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Complete the metadata of a matched flow; returns (metadata, done)."""
        return metadata, True


def printable(data: bytes, extra: bytes = b"") -> bool:
    """True when every byte is printable ASCII, a tab, or in ``extra``."""
    return all(32 <= b < 127 or b == 9 or b in extra for b in data)


def text(data: bytes, limit: int = 256) -> str:
    """Decode protocol text for metadata: ASCII-safe, bounded length."""
    return data[:limit].decode("utf-8", "replace").strip()


def header_lines(payload: bytes, limit: int = 64) -> dict[str, str]:
    """Headers ``Name: value`` after a start line, names lower-cased (first occurrence wins)."""
    headers: dict[str, str] = {}
    lines = payload.split(b"\r\n", limit + 1)
    for line in lines[1 : limit + 1]:
        if not line:
            break
        name, sep, value = line.partition(b":")
        if sep and name and b" " not in name.strip():
            headers.setdefault(name.strip().lower().decode("latin-1"), text(value))
    return headers


def crc16(data: bytes, poly: int, init: int, xorout: int) -> int:
    """A reflected CRC-16 (DNP3 uses poly 0xA6BC, X.25/HDLC uses 0x8408)."""
    crc = init
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return crc ^ xorout


def varint_mqtt(data: bytes, pos: int) -> tuple[int, int] | None:
    """An MQTT remaining-length varint at ``pos``: (value, next position) or None."""
    value = 0
    for i in range(4):
        if pos + i >= len(data):
            return None
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos + i + 1
    return None
