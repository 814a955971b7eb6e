"""Industrial and smart-grid protocols: Modbus/TCP, DNP3, IEC 60870-5-104 and DLMS/COSEM.

Each is recognised from framing that random bytes rarely satisfy: Modbus's MBAP header with
protocol id 0 and lengths that chain to the payload's end; DNP3's 0x0564 link header with a valid
CRC; IEC 104 APCI frames (0x68, length, I/S/U control fields) that chain to the end; DLMS/COSEM
in the IEC 62056-47 wrapper or in HDLC frames (IEC 62056-46) whose frame check sequence is valid.
"""

from __future__ import annotations

import struct
from typing import Any

from sdnlab.vnfs.dpi import model as m
from sdnlab.vnfs.dpi.model import Context, Match, Result
from sdnlab.vnfs.dpi.protocols.base import DissectorBase, crc16

_MODBUS_FUNCTIONS = frozenset((1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43))


class Modbus(DissectorBase):
    """Modbus/TCP application data units."""

    name = m.MODBUS
    transports = frozenset({m.TCP})
    ports = frozenset({502})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        pos = 0
        first: tuple[int, int] | None = None
        while pos < len(payload):
            if pos + 8 > len(payload):
                return None
            _tid, pid, length, unit, function = struct.unpack_from("!HHHBB", payload, pos)
            if pid != 0 or not 2 <= length <= 254:
                return None
            if function & 0x80:
                if function & 0x7F not in _MODBUS_FUNCTIONS or length != 3:
                    return None
            elif function not in _MODBUS_FUNCTIONS:
                return None
            first = first or (unit, function)
            pos += 6 + length
        if pos != len(payload) or first is None:
            return None
        return Match(m.MODBUS, {"unit_id": first[0], "function": first[1] & 0x7F})


def dnp3_crc(data: bytes) -> int:
    """The DNP3 link-layer CRC (CRC-16/DNP)."""
    return crc16(data, 0xA6BC, 0x0000, 0xFFFF)


class Dnp3(DissectorBase):
    """DNP3 over TCP or UDP: the link header's start bytes, length and CRC."""

    name = m.DNP3
    ports = frozenset({20000})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        if len(payload) < 10 or payload[0] != 0x05 or payload[1] != 0x64 or payload[2] < 5:
            return None
        if dnp3_crc(payload[:8]) != struct.unpack_from("<H", payload, 8)[0]:
            return None
        destination, source = struct.unpack_from("<HH", payload, 4)
        return Match(
            m.DNP3, {"source": source, "destination": destination, "primary": bool(payload[3] & 0x40)}
        )


_U_FORMATS = {
    0x07: "STARTDT act",
    0x0B: "STARTDT con",
    0x13: "STOPDT act",
    0x23: "STOPDT con",
    0x43: "TESTFR act",
    0x83: "TESTFR con",
}


class Iec104(DissectorBase):
    """IEC 60870-5-104 APDUs over TCP."""

    name = m.IEC60870
    transports = frozenset({m.TCP})
    ports = frozenset({2404})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        pos = 0
        first: dict[str, Any] | None = None
        while pos < len(payload):
            if pos + 6 > len(payload) or payload[pos] != 0x68:
                return None
            length = payload[pos + 1]
            if not 4 <= length <= 253 or pos + 2 + length > len(payload):
                return None
            control = payload[pos + 2 : pos + 6]
            if control[0] & 0x01 == 0:  # I-format: an ASDU follows
                if length < 4 + 6 or not 1 <= payload[pos + 6] <= 127:
                    return None
                info = {"format": "I", "asdu_type": payload[pos + 6]}
            elif control[0] & 0x03 == 0x01:  # S-format
                if length != 4 or control[0] != 0x01 or control[1] != 0:
                    return None
                info = {"format": "S"}
            else:  # U-format
                if length != 4 or control[0] not in _U_FORMATS or any(control[1:]):
                    return None
                info = {"format": "U", "function": _U_FORMATS[control[0]]}
            first = first or info
            pos += 2 + length
        if first is None:
            return None
        return Match(m.IEC60870, first)


_DLMS_APDUS = {
    0x60: "AARQ",
    0x61: "AARE",
    0x62: "RLRQ",
    0x63: "RLRE",
    0xC0: "get-request",
    0xC1: "set-request",
    0xC2: "event-notification",
    0xC3: "action-request",
    0xC4: "get-response",
    0xC5: "set-response",
    0xC7: "action-response",
    0xD8: "exception-response",
    0x0F: "data-notification",
    0xDB: "general-glo-ciphering",
    0xDC: "general-ded-ciphering",
    0xE0: "general-block-transfer",
}


def hdlc_fcs(data: bytes) -> int:
    """The HDLC frame check sequence (CRC-16/X.25) used by IEC 62056-46."""
    return crc16(data, 0x8408, 0xFFFF, 0xFFFF)


class Dlms(DissectorBase):
    """DLMS/COSEM (IEC 62056): the TCP/UDP wrapper, or HDLC frames with a valid FCS."""

    name = m.IEC62056
    ports = frozenset({4059, 4060})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        if len(payload) >= 9 and payload[0] == 0x7E:
            return self._hdlc(payload)
        if len(payload) >= 9 and payload[0:2] == b"\x00\x01":
            length = struct.unpack_from("!H", payload, 6)[0]
            if length == len(payload) - 8 and payload[8] in _DLMS_APDUS:
                source, destination = struct.unpack_from("!HH", payload, 2)
                return Match(
                    m.IEC62056,
                    {
                        "framing": "wrapper",
                        "apdu": _DLMS_APDUS[payload[8]],
                        "source_wport": source,
                        "destination_wport": destination,
                    },
                )
        return None

    @staticmethod
    def _hdlc(payload: bytes) -> Result:
        if payload[1] & 0xF0 != 0xA0:
            return None
        length = ((payload[1] & 0x07) << 8) | payload[2]
        if length < 7 or length + 2 > len(payload) or payload[length + 1] != 0x7E:
            return None
        fcs = struct.unpack_from("<H", payload, length - 1)[0]
        if hdlc_fcs(payload[1 : length - 1]) != fcs:
            return None
        return Match(m.IEC62056, {"framing": "hdlc"})
