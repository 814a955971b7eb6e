"""Network infrastructure and media protocols: NTP, SNMP, Syslog, RTP (and RTCP).

NTP from its 48-byte header's version/mode/stratum fields (or a mode-6 control header), SNMP
from its BER message (SEQUENCE, version, community or v3 header, PDU tag), Syslog from its
``<PRI>`` prefix followed by text, RTP from version-2 headers whose SSRC, sequence number and
timestamp advance consistently over two packets of one direction.
"""

from __future__ import annotations

import re
import struct
from typing import Any

from sdnlab.vnfs.dpi import model as m
from sdnlab.vnfs.dpi.model import Context, Match, More, Result
from sdnlab.vnfs.dpi.protocols.base import DissectorBase, printable

_NTP_MODES = {
    1: "symmetric active",
    2: "symmetric passive",
    3: "client",
    4: "server",
    5: "broadcast",
    6: "control",
    7: "private",
}


class Ntp(DissectorBase):
    """NTP versions 1 to 4 over UDP."""

    name = m.NTP
    transports = frozenset({m.UDP})
    ports = frozenset({123})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        if len(payload) < 12:
            return None
        first = payload[0]
        version, mode = (first >> 3) & 0x07, first & 0x07
        if not 1 <= version <= 4 or mode == 0:
            return None
        if mode == 6:  # control message: 12-byte header, count of data octets
            count = struct.unpack_from("!H", payload, 10)[0]
            if payload[1] & 0x1F == 0 or len(payload) < 12 + count or len(payload) > 12 + count + 3 + 24:
                return None
        elif mode == 7:
            return None  # implementation-specific: no structure to check
        else:
            if len(payload) < 48 or (len(payload) - 48) % 4:
                return None
            stratum, poll = payload[1], struct.unpack_from("b", payload, 2)[0]
            if stratum > 16 or not -6 <= poll <= 17:
                return None
        return Match(m.NTP, {"version": version, "mode": _NTP_MODES[mode]})


def _ber_length(data: bytes, pos: int) -> tuple[int, int] | None:
    if pos >= len(data):
        return None
    first = data[pos]
    if first < 0x80:
        return first, pos + 1
    size = first & 0x7F
    if size == 0 or size > 3 or pos + 1 + size > len(data):
        return None
    return int.from_bytes(data[pos + 1 : pos + 1 + size], "big"), pos + 1 + size


_SNMP_PDUS = {
    0xA0: "get-request",
    0xA1: "get-next-request",
    0xA2: "response",
    0xA3: "set-request",
    0xA4: "trap",
    0xA5: "get-bulk-request",
    0xA6: "inform-request",
    0xA7: "trapv2",
    0xA8: "report",
}
_SNMP_VERSIONS = {0: "1", 1: "2c", 3: "3"}


class Snmp(DissectorBase):
    """SNMP v1, v2c and v3 messages over UDP."""

    name = m.SNMP
    transports = frozenset({m.UDP})
    ports = frozenset({161, 162})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        if len(payload) < 10 or payload[0] != 0x30:
            return None
        outer = _ber_length(payload, 1)
        if outer is None or outer[1] + outer[0] != len(payload):
            return None
        pos = outer[1]
        if payload[pos : pos + 2] != b"\x02\x01" or payload[pos + 2] not in _SNMP_VERSIONS:
            return None
        version = payload[pos + 2]
        pos += 3
        metadata: dict[str, Any] = {"version": _SNMP_VERSIONS[version]}
        if version == 3:
            if payload[pos] != 0x30:
                return None
            return Match(m.SNMP, metadata)
        if payload[pos] != 0x04:
            return None
        community = _ber_length(payload, pos + 1)
        if community is None:
            return None
        pos = community[1] + community[0]
        if pos >= len(payload) or payload[pos] not in _SNMP_PDUS:
            return None
        metadata["pdu"] = _SNMP_PDUS[payload[pos]]
        return Match(m.SNMP, metadata)


_SYSLOG = re.compile(rb"(?:\d{1,5} )?<(\d{1,3})>")
_SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")


class Syslog(DissectorBase):
    """Syslog (RFC 3164 and 5424) over UDP and TCP, octet-counted or not."""

    name = m.SYSLOG
    ports = frozenset({514, 601, 6514})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        found = _SYSLOG.match(payload)
        if not found:
            return None
        priority = int(found.group(1))
        if priority > 191 or (len(found.group(1)) > 1 and found.group(1)[0:1] == b"0"):
            return None
        body = payload[found.end() : found.end() + 48]
        if not body or not printable(body.rstrip(b"\0\n\r"), extra=b"\n\r"):
            return None
        return Match(m.SYSLOG, {"facility": priority >> 3, "severity": _SEVERITIES[priority & 7]})


_RTCP_TYPES = frozenset(range(192, 208))


class Rtp(DissectorBase):
    """RTP media streams (and their RTCP control packets) over UDP.

    An RTP flow needs two packets of one direction with the same SSRC and payload type whose
    sequence numbers advance by 1..16 and whose timestamps do not run backwards by much.
    """

    name = m.RTP
    transports = frozenset({m.UDP})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        if len(payload) < 12 or payload[0] >> 6 != 2:
            return None
        if payload[1] in _RTCP_TYPES:
            length = (struct.unpack_from("!H", payload, 2)[0] + 1) * 4
            if length <= len(payload) and payload[1] in (200, 201, 202, 203, 204, 205, 206):
                return Match(m.RTCP, {})
            return None
        payload_type = payload[1] & 0x7F
        if 72 <= payload_type <= 76 or payload_type in range(35, 72):
            return None
        csrc = payload[0] & 0x0F
        if 12 + 4 * csrc > len(payload):
            return None
        if payload[0] & 0x20 and (payload[-1] == 0 or payload[-1] > len(payload) - 12 - 4 * csrc):
            return None
        sequence, stamp, ssrc = struct.unpack_from("!HII", payload, 2)
        seen: dict[bool, tuple[int, int, int, int]] = dict(ctx.scratch or {})
        previous = seen.get(ctx.from_client)
        if previous is not None:
            p_type, p_seq, p_stamp, p_ssrc = previous
            if (
                p_ssrc == ssrc
                and p_type == payload_type
                and 1 <= (sequence - p_seq) % 65536 <= 16
                and (stamp - p_stamp) % (1 << 32) < (1 << 24)
            ):
                return Match(m.RTP, {"payload_type": payload_type, "ssrc": f"{ssrc:#010x}"})
            if p_ssrc != ssrc and ctx.index > 4:
                return None
        seen[ctx.from_client] = (payload_type, sequence, stamp, ssrc)
        return More(scratch=seen)
