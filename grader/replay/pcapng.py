"""OpenFlow conversations as pcapng files that Wireshark opens, and read back as message lists.

A conversation is a list of ``OFRecord`` (time, switch connection, direction, one OpenFlow
message's bytes, the switch's dpid when known). ``PcapngWriter`` appends each message as one
Ethernet/IPv4/TCP packet with synthesized headers: the controller side always uses TCP port
6653 (so Wireshark's OpenFlow dissector decodes it), the switch side keeps its real address and
port, each connection starts with a three-way handshake and sequence numbers run on, so
Wireshark follows the streams. The dpid, and for messages an app sent the ``file:line`` of the
app code that sent it, ride in each packet's comment (``dpid=... app=l2_switch.py:57``).

``read_conversation`` reads such a file, or any pcapng/pcap capture of OpenFlow on TCP (e.g.
taken with tcpdump on port 6653), reassembles each direction's stream in file order and splits
it into messages. Retransmitted or reordered segments are not handled (this writer makes none).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sdnlab.grader.replay.errors import ReplayError

OPENFLOW_PORT = 6653
TO_CONTROLLER = "switch->controller"
TO_SWITCH = "controller->switch"

_SHB, _IDB, _EPB, _SPB = 0x0A0D0D0A, 0x00000001, 0x00000006, 0x00000003
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_LINKTYPE_ETHERNET = 1
_TCP_SYN, _TCP_ACK, _TCP_PSH, _TCP_FIN = 0x02, 0x10, 0x08, 0x01
_OF_HEADER = struct.Struct("!BBHI")


@dataclass(frozen=True)
class OFRecord:
    """One OpenFlow message on one switch connection."""

    time: float  # Unix time, seconds
    switch: tuple[str, int]  # the switch end of the TCP connection (ip, port)
    direction: str  # TO_CONTROLLER or TO_SWITCH
    data: bytes  # the whole OpenFlow message
    dpid: int | None = None
    site: str | None = None  # "file:line" of the app code that sent it, when recorded

    @property
    def msg_type(self) -> int:
        """The OpenFlow message type number."""
        return self.data[1]

    @property
    def version(self) -> int:
        """The OpenFlow version byte."""
        return self.data[0]


def split_messages(stream: bytes) -> tuple[list[bytes], bytes]:
    """Cut a TCP byte stream into whole OpenFlow messages; returns (messages, leftover bytes)."""
    messages = []
    offset = 0
    while len(stream) - offset >= 8:
        _, _, length, _ = _OF_HEADER.unpack_from(stream, offset)
        if length < 8:
            raise ReplayError(f"not an OpenFlow stream: message length {length} at byte {offset}")
        if len(stream) - offset < length:
            break
        messages.append(bytes(stream[offset : offset + length]))
        offset += length
    return messages, bytes(stream[offset:])


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_frame(
    src: tuple[str, int], dst: tuple[str, int], seq: int, ack: int, flags: int, payload: bytes = b""
) -> bytes:
    """An Ethernet + IPv4 + TCP frame carrying ``payload`` (valid checksums)."""
    src_ip, dst_ip = ipaddress.IPv4Address(src[0]).packed, ipaddress.IPv4Address(dst[0]).packed
    tcp_no_sum = struct.pack(
        "!HHIIBBHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0
    )
    pseudo = src_ip + dst_ip + struct.pack("!BBH", 0, 6, len(tcp_no_sum) + len(payload))
    tcp_sum = _checksum(pseudo + tcp_no_sum + payload)
    tcp = tcp_no_sum[:16] + struct.pack("!H", tcp_sum) + tcp_no_sum[18:]
    total = 20 + len(tcp) + len(payload)
    ip_no_sum = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, src_ip, dst_ip)
    ip = ip_no_sum[:10] + struct.pack("!H", _checksum(ip_no_sum)) + ip_no_sum[12:]
    src_mac = b"\x02\x00" + src_ip
    dst_mac = b"\x02\x00" + dst_ip
    if src_mac == dst_mac:  # both ends on 127.0.0.1: tell them apart by port
        src_mac = b"\x02\x01" + struct.pack("!I", src[1])
    return dst_mac + src_mac + b"\x08\x00" + ip + tcp + payload


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _block(block_type: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", block_type, length) + body + struct.pack("<I", length)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad4(value)


@dataclass
class _Connection:
    switch_seq: int = 1
    controller_seq: int = 1


@dataclass
class PcapngWriter:
    """Appends OpenFlow messages to a pcapng stream as TCP packets (not thread-safe: lock outside)."""

    out: BinaryIO
    controller: tuple[str, int] = ("127.0.0.1", OPENFLOW_PORT)
    _connections: dict[tuple[str, int], _Connection] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shb = struct.pack("<IHHq", _BYTE_ORDER_MAGIC, 1, 0, -1) + _option(4, b"sdnlab") + _option(0, b"")
        self.out.write(_block(_SHB, shb))
        idb = struct.pack("<HHI", _LINKTYPE_ETHERNET, 0, 0) + _option(2, b"openflow") + _option(0, b"")
        self.out.write(_block(_IDB, idb))

    def _packet(self, when: float, frame: bytes, comment: str | None = None) -> None:
        micros = round(when * 1_000_000)
        options = (_option(1, comment.encode()) + _option(0, b"")) if comment else b""
        body = struct.pack("<IIIII", 0, micros >> 32, micros & 0xFFFFFFFF, len(frame), len(frame))
        self.out.write(_block(_EPB, body + _pad4(frame) + options))

    def _connection(self, when: float, switch: tuple[str, int]) -> _Connection:
        conn = self._connections.get(switch)
        if conn is None:
            conn = self._connections[switch] = _Connection()
            ctl = self.controller
            self._packet(when, tcp_frame(switch, ctl, 0, 0, _TCP_SYN))
            self._packet(when, tcp_frame(ctl, switch, 0, 1, _TCP_SYN | _TCP_ACK))
            self._packet(when, tcp_frame(switch, ctl, 1, 1, _TCP_ACK))
        return conn

    def write(self, record: OFRecord) -> None:
        """Append one message as one TCP segment."""
        conn = self._connection(record.time, record.switch)
        parts = [f"dpid={record.dpid:016x}"] if record.dpid is not None else []
        if record.site:
            parts.append(f"app={record.site}")
        comment = " ".join(parts) or None
        if record.direction == TO_CONTROLLER:
            frame = tcp_frame(
                record.switch,
                self.controller,
                conn.switch_seq,
                conn.controller_seq,
                _TCP_PSH | _TCP_ACK,
                record.data,
            )
            conn.switch_seq += len(record.data)
        else:
            frame = tcp_frame(
                self.controller,
                record.switch,
                conn.controller_seq,
                conn.switch_seq,
                _TCP_PSH | _TCP_ACK,
                record.data,
            )
            conn.controller_seq += len(record.data)
        self._packet(record.time, frame, comment)

    def close_connection(self, when: float, switch: tuple[str, int]) -> None:
        """Write the switch's FIN for a connection that ended."""
        conn = self._connections.pop(switch, None)
        if conn is not None:
            flags = _TCP_FIN | _TCP_ACK
            self._packet(
                when, tcp_frame(switch, self.controller, conn.switch_seq, conn.controller_seq, flags)
            )


def write_conversation(path: str | Path, records: list[OFRecord]) -> None:
    """Write ``records`` (in order) to a new pcapng file (its folder is made when missing)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            writer = PcapngWriter(out)
            for record in records:
                writer.write(record)
    except OSError as exc:
        raise ReplayError(f"{exc.filename or path}: cannot write: {exc.strerror}") from None


# ------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class _Segment:
    time: float
    src: tuple[str, int]
    dst: tuple[str, int]
    payload: bytes
    comment: str | None


def _parse_frame(frame: bytes, linktype: int) -> tuple[tuple[str, int], tuple[str, int], bytes] | None:
    if linktype == _LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        eth_type = struct.unpack_from("!H", frame, 12)[0]
        offset = 14
        if eth_type == 0x8100:
            eth_type = struct.unpack_from("!H", frame, 16)[0]
            offset = 18
        if eth_type != 0x0800:
            return None
    elif linktype in (101, 228):  # raw IPv4
        offset = 0
    elif linktype == 113:  # Linux cooked capture (tcpdump -i any)
        if len(frame) < 16 or struct.unpack_from("!H", frame, 14)[0] != 0x0800:
            return None
        offset = 16
    else:
        return None
    ip = frame[offset:]
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
        return None
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack_from("!H", ip, 2)[0]
    tcp = ip[ihl:total]
    if len(tcp) < 20:
        return None
    sport, dport = struct.unpack_from("!HH", tcp, 0)
    data_offset = (tcp[12] >> 4) * 4
    src = (str(ipaddress.IPv4Address(ip[12:16])), sport)
    dst = (str(ipaddress.IPv4Address(ip[16:20])), dport)
    return src, dst, bytes(tcp[data_offset:])


def _segments_pcapng(data: bytes) -> list[_Segment]:
    segments = []
    offset = 0
    linktypes: list[int] = []
    resolution = [1e-6]
    endian = "<"
    while offset < len(data):
        if offset + 12 > len(data):
            raise ReplayError(f"truncated pcapng block at byte {offset}")
        block_type, length = struct.unpack_from(endian + "II", data, offset)
        if block_type == _SHB:
            magic = struct.unpack_from("<I", data, offset + 8)[0]
            endian = "<" if magic == _BYTE_ORDER_MAGIC else ">"
            block_type, length = struct.unpack_from(endian + "II", data, offset)
            linktypes, resolution = [], []
        if length < 12 or offset + length > len(data):
            raise ReplayError(f"truncated pcapng block at byte {offset}")
        body = data[offset + 8 : offset + length - 4]
        if block_type == _IDB:
            linktypes.append(struct.unpack_from(endian + "H", body, 0)[0])
            resolution.append(_if_tsresol(body[8:], endian))
        elif block_type == _EPB:
            iface, high, low, caplen, _ = struct.unpack_from(endian + "IIIII", body, 0)
            frame = body[20 : 20 + caplen]
            comment = _comment(body[20 + caplen + (-caplen % 4) :], endian)
            parsed = _parse_frame(frame, linktypes[iface] if iface < len(linktypes) else _LINKTYPE_ETHERNET)
            if parsed:
                when = ((high << 32) | low) * (resolution[iface] if iface < len(resolution) else 1e-6)
                segments.append(_Segment(when, parsed[0], parsed[1], parsed[2], comment))
        offset += length
    return segments


def _options(raw: bytes, endian: str) -> Iterator[tuple[int, bytes]]:
    offset = 0
    while offset + 4 <= len(raw):
        code: int
        length: int
        code, length = struct.unpack_from(endian + "HH", raw, offset)
        if code == 0:
            return
        yield code, raw[offset + 4 : offset + 4 + length]
        offset += 4 + length + (-length % 4)


def _if_tsresol(raw: bytes, endian: str) -> float:
    for code, value in _options(raw, endian):
        if code == 9 and value:
            exp = value[0]
            return float(2.0 ** -(exp & 0x7F) if exp & 0x80 else 10.0**-exp)
    return 1e-6


def _comment(raw: bytes, endian: str) -> str | None:
    for code, value in _options(raw, endian):
        if code == 1:
            return str(value.decode(errors="replace"))
    return None


def _segments_pcap(data: bytes) -> list[_Segment]:
    magic = struct.unpack_from("<I", data, 0)[0]
    endian, scale = {0xA1B2C3D4: ("<", 1e-6), 0xA1B23C4D: ("<", 1e-9)}.get(magic, (">", 1e-6))
    if endian == ">":
        magic_be = struct.unpack_from(">I", data, 0)[0]
        scale = 1e-9 if magic_be == 0xA1B23C4D else 1e-6
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    segments = []
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack_from(endian + "IIII", data, offset)
        frame = data[offset + 16 : offset + 16 + caplen]
        offset += 16 + caplen
        parsed = _parse_frame(frame, linktype)
        if parsed:
            segments.append(_Segment(sec + frac * scale, parsed[0], parsed[1], parsed[2], None))
    return segments


def read_conversation(path: str | Path, port: int = OPENFLOW_PORT) -> list[OFRecord]:
    """The OpenFlow messages of a pcapng (or pcap) capture, in file order, per switch connection."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ReplayError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) < 24:
        raise ReplayError(f"{path}: not a pcapng or pcap file")
    head = struct.unpack_from("<I", data, 0)[0]
    try:
        if head == _SHB:
            segments = _segments_pcapng(data)
        elif head in (0xA1B2C3D4, 0xD4C3B2A1, 0xA1B23C4D, 0x4D3CB2A1):
            segments = _segments_pcap(data)
        else:
            raise ReplayError("not a pcapng or pcap file")
    except ReplayError as exc:
        raise ReplayError(f"{path}: {exc}") from None
    except struct.error:  # a block too short for the fields its type promises
        raise ReplayError(f"{path}: damaged capture (a block is shorter than its fields)") from None
    buffers: dict[tuple[tuple[str, int], str], bytes] = {}
    dpids: dict[tuple[str, int], int] = {}
    records = []
    for seg in segments:
        if seg.dst[1] == port:
            switch, direction = seg.src, TO_CONTROLLER
        elif seg.src[1] == port:
            switch, direction = seg.dst, TO_SWITCH
        else:
            continue
        tags = dict(part.split("=", 1) for part in (seg.comment or "").split(" ") if "=" in part)
        if "dpid" in tags:
            dpids[switch] = int(tags["dpid"], 16)
        if not seg.payload:
            continue
        key = (switch, direction)
        try:
            messages, buffers[key] = split_messages(buffers.get(key, b"") + seg.payload)
        except ReplayError as exc:
            raise ReplayError(f"{path}: {exc}") from None
        for msg in messages:
            if direction == TO_CONTROLLER and msg[1] == 6 and len(msg) >= 16:  # FEATURES_REPLY
                dpids[switch] = struct.unpack_from("!Q", msg, 8)[0]
            records.append(OFRecord(seg.time, switch, direction, msg, dpids.get(switch), tags.get("app")))
    return records
