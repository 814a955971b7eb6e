"""Reading and writing packet captures: classic pcap and pcapng, without scapy.

``read_pcap(path)`` streams ``PcapRecord(ts, frame, linktype)`` from either format, chosen by the
file's magic number:

- pcap: both byte orders, microsecond (``a1b2c3d4``) and nanosecond (``a1b23c4d``) timestamps;
- pcapng: Section Header, Interface Description, Enhanced Packet, Simple Packet and the obsolete
  Packet block; several sections and interfaces, each with its own link type and timestamp
  resolution (``if_tsresol``) and offset (``if_tsoffset``); other blocks are skipped.

``ts`` is seconds since the epoch as a float (Simple Packet blocks carry no time: 0.0), ``frame``
is the captured bytes, ``linktype`` the tcpdump.org link type (1 Ethernet, 113 Linux SLL,
276 Linux SLL2, 101 raw IP, ...; ``sdnlab.vnfs.packet.parse`` takes it as its second argument).

Errors raise ``PcapError`` naming the file, the record (1-based packet or block number) and the
byte offset. A file that ends inside a record (a capture cut short, or still being written) first
yields every complete record, then raises ``PcapTruncated`` (a ``PcapError``) whose ``complete``
says how many were read, so a caller can keep them and report the cut as a warning, as tcpdump
and tshark do. Failing reads (``EIO``) are ``PcapError`` too. ``PcapWriter``/``write_pcap`` write
classic pcap.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from sdnlab.errors import VnfError

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_MAX_RECORD = 256 * 1024 * 1024  # a larger record length means a corrupt file, not a big packet

_BT_IDB = 0x00000001
_BT_PB = 0x00000002
_BT_SPB = 0x00000003
_BT_EPB = 0x00000006


class PcapError(VnfError):
    """A capture file cannot be read or written; the message names the file and record."""


class PcapTruncated(PcapError):
    """The capture ends inside a record; the ``complete`` packet records before it were yielded."""

    def __init__(self, message: str, complete: int) -> None:
        super().__init__(message)
        self.complete = complete


class PcapRecord(NamedTuple):
    """One captured frame."""

    ts: float
    frame: bytes
    linktype: int


def read_pcap(path: str | Path) -> Iterator[PcapRecord]:
    """Stream the records of a pcap or pcapng file."""
    path = Path(path)
    name = display_name(path)
    try:
        stream = path.open("rb")
    except OSError as exc:
        raise PcapError(f"{name}: cannot open: {exc.strerror or exc}") from None
    with stream:
        try:
            yield from read_stream(stream, name)
        except OSError as exc:
            raise PcapError(f"{name}: cannot read: {exc.strerror or exc}") from None


def display_name(path: str | Path) -> str:
    """A path as one printable line: bytes that are not UTF-8 and control characters escaped (``\\xff``)."""
    try:
        text = os.fsencode(path).decode("utf-8", "backslashreplace")
    except UnicodeError:  # a str with surrogates no file system name can hold
        text = str(path).encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def read_bytes(data: bytes, name: str = "<bytes>") -> Iterator[PcapRecord]:
    """Stream the records of a capture held in memory."""
    import io

    yield from read_stream(io.BytesIO(data), name)


def read_stream(stream: BinaryIO, name: str) -> Iterator[PcapRecord]:
    """Stream the records of a capture from an open binary file; ``name`` is used in errors."""
    head = stream.read(4)
    if len(head) < 4:
        raise PcapError(f"{name}: empty or too short to be a capture ({len(head)} bytes)")
    magic_le = struct.unpack("<I", head)[0]
    if magic_le == PCAPNG_SHB:
        yield from _read_pcapng(stream, name, head)
    elif magic_le in (MAGIC_USEC, MAGIC_NSEC) or struct.unpack(">I", head)[0] in (MAGIC_USEC, MAGIC_NSEC):
        yield from _read_pcap(stream, name, head)
    else:
        raise PcapError(f"{name}: not a pcap or pcapng file (magic {head.hex()})")


def _read_pcap(stream: BinaryIO, name: str, head: bytes) -> Iterator[PcapRecord]:
    rest = stream.read(20)
    if len(rest) < 20:
        raise PcapError(f"{name}: truncated pcap file header ({4 + len(rest)} of 24 bytes)")
    order = "<" if struct.unpack("<I", head)[0] in (MAGIC_USEC, MAGIC_NSEC) else ">"
    magic = struct.unpack(order + "I", head)[0]
    divisor = 1e9 if magic == MAGIC_NSEC else 1e6
    _major, _minor, _zone, _sigfigs, _snaplen, network = struct.unpack(order + "HHiIII", rest)
    linktype = network & 0x0FFFFFFF
    rec = struct.Struct(order + "IIII")
    offset = 24
    number = 0
    read = stream.read
    while True:
        header = read(16)
        if not header:
            return
        number += 1
        if len(header) < 16:
            raise PcapTruncated(
                f"{name}: record {number} at byte {offset}: truncated record header "
                f"({len(header)} of 16 bytes)",
                number - 1,
            )
        sec, frac, incl, _orig = rec.unpack(header)
        if incl > _MAX_RECORD:
            raise PcapError(
                f"{name}: record {number} at byte {offset}: captured length {incl} is not plausible"
            )
        frame = read(incl)
        if len(frame) < incl:
            raise PcapTruncated(
                f"{name}: record {number} at byte {offset}: truncated frame ({len(frame)} of {incl} bytes)",
                number - 1,
            )
        offset += 16 + incl
        yield PcapRecord(sec + frac / divisor, frame, linktype)


class _Interface(NamedTuple):
    linktype: int
    units_per_second: int
    offset_seconds: int


def _read_pcapng(stream: BinaryIO, name: str, head: bytes) -> Iterator[PcapRecord]:
    order = "<"
    interfaces: list[_Interface] = []
    offset = 0
    number = 0
    packets = 0  # packet records yielded so far
    first = True
    while True:
        start = head if first else stream.read(4)
        first = False
        if not start:
            return
        number += 1
        where = f"{name}: block {number} at byte {offset}"
        if len(start) < 4:
            raise PcapTruncated(f"{where}: truncated block type", packets)
        raw_len = stream.read(4)
        if len(raw_len) < 4:
            raise PcapTruncated(f"{where}: truncated block length", packets)
        if start == b"\x0a\x0d\x0d\x0a":  # a new section: its byte-order magic decides the order
            bom = stream.read(4)
            if len(bom) < 4:
                raise PcapTruncated(f"{where}: truncated section header", packets)
            if struct.unpack("<I", bom)[0] == _BYTE_ORDER_MAGIC:
                order = "<"
            elif struct.unpack(">I", bom)[0] == _BYTE_ORDER_MAGIC:
                order = ">"
            else:
                raise PcapError(f"{where}: bad byte-order magic {bom.hex()}")
            interfaces = []
            block_type = PCAPNG_SHB
            total = struct.unpack(order + "I", raw_len)[0]
            consumed = 12
        else:
            block_type = struct.unpack(order + "I", start)[0]
            total = struct.unpack(order + "I", raw_len)[0]
            consumed = 8
        if total < 12 or total % 4 or total > _MAX_RECORD:
            raise PcapError(f"{where}: bad block length {total}")
        body = stream.read(total - consumed)
        if len(body) < total - consumed:
            raise PcapTruncated(
                f"{where}: truncated block ({consumed + len(body)} of {total} bytes)", packets
            )
        offset += total
        body = body[:-4]  # the trailing copy of the block length
        if block_type == PCAPNG_SHB:
            continue
        if block_type == _BT_IDB:
            interfaces.append(_parse_idb(body, order, where))
        elif block_type == _BT_EPB:
            if len(body) < 20:
                raise PcapError(f"{where}: truncated enhanced packet block")
            if_id, ts_high, ts_low, cap_len, _orig = struct.unpack_from(order + "IIIII", body)
            yield _packet(interfaces, if_id, (ts_high << 32) | ts_low, body, 20, cap_len, where)
            packets += 1
        elif block_type == _BT_SPB:
            if len(body) < 4:
                raise PcapError(f"{where}: truncated simple packet block")
            orig = struct.unpack_from(order + "I", body)[0]
            cap_len = min(orig, len(body) - 4)
            if not interfaces:
                raise PcapError(f"{where}: simple packet block before any interface description")
            yield PcapRecord(0.0, bytes(body[4 : 4 + cap_len]), interfaces[0].linktype)
            packets += 1
        elif block_type == _BT_PB:
            if len(body) < 20:
                raise PcapError(f"{where}: truncated packet block")
            if_id, _drops, ts_high, ts_low, cap_len, _orig = struct.unpack_from(order + "HHIIII", body)
            yield _packet(interfaces, if_id, (ts_high << 32) | ts_low, body, 20, cap_len, where)
            packets += 1


def _packet(
    interfaces: list[_Interface], if_id: int, stamp: int, body: bytes, at: int, cap_len: int, where: str
) -> PcapRecord:
    if if_id >= len(interfaces):
        raise PcapError(f"{where}: packet on undeclared interface {if_id}")
    if at + cap_len > len(body):
        raise PcapError(f"{where}: captured length {cap_len} runs past the block")
    iface = interfaces[if_id]
    ts = stamp / iface.units_per_second + iface.offset_seconds
    return PcapRecord(ts, bytes(body[at : at + cap_len]), iface.linktype)


def _parse_idb(body: bytes, order: str, where: str) -> _Interface:
    if len(body) < 8:
        raise PcapError(f"{where}: truncated interface description block")
    linktype, _reserved, _snaplen = struct.unpack_from(order + "HHI", body)
    units = 1_000_000
    offset_seconds = 0
    pos = 8
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, pos)
        value = body[pos + 4 : pos + 4 + length]
        if code == 0:  # opt_endofopt
            break
        if len(value) < length:
            raise PcapError(f"{where}: option {code} runs past the block")
        if code == 9 and length >= 1:  # if_tsresol
            resol = value[0]
            units = 2 ** (resol & 0x7F) if resol & 0x80 else 10**resol
            if units == 0 or units > 10**18:
                raise PcapError(f"{where}: implausible timestamp resolution {resol:#x}")
        elif code == 14 and length >= 8:  # if_tsoffset
            offset_seconds = struct.unpack_from(order + "q", value)[0]
        pos += 4 + ((length + 3) & ~3)
    return _Interface(linktype, units, offset_seconds)


class PcapWriter:
    """Writes a classic pcap file (little-endian, micro- or nanosecond timestamps)."""

    def __init__(
        self, path: str | Path, linktype: int = 1, *, nanosecond: bool = False, snaplen: int = 262144
    ) -> None:
        self.path = Path(path)
        self._scale = 1_000_000_000 if nanosecond else 1_000_000
        try:
            self._stream = self.path.open("wb")
        except OSError as exc:
            raise PcapError(f"{self.path}: cannot create: {exc.strerror}") from None
        magic = MAGIC_NSEC if nanosecond else MAGIC_USEC
        self._stream.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
        self.count = 0

    def write(self, ts: float, frame: bytes | bytearray | memoryview) -> None:
        """Append one frame captured at ``ts`` (seconds since the epoch)."""
        sec = int(ts // 1)
        frac = round((ts - sec) * self._scale)  # split first: ts * 1e9 would lose precision
        if frac >= self._scale:
            sec, frac = sec + 1, frac - self._scale
        self._stream.write(struct.pack("<IIII", sec & 0xFFFFFFFF, frac, len(frame), len(frame)))
        self._stream.write(frame)
        self.count += 1

    def close(self) -> None:
        """Flush and close the file."""
        self._stream.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def write_pcap(
    path: str | Path,
    records: Iterable[tuple[float, bytes] | PcapRecord],
    linktype: int = 1,
    *,
    nanosecond: bool = False,
) -> int:
    """Write ``(ts, frame)`` pairs (or ``PcapRecord``) to a pcap file; returns the count."""
    with PcapWriter(path, linktype, nanosecond=nanosecond) as writer:
        for record in records:
            writer.write(record[0], record[1])
        return writer.count
