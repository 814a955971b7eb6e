"""IoT messaging protocols: MQTT (client id), CoAP (method, URI path) and AMQP.

MQTT is recognised from a CONNECT packet, or mid-stream from packets whose fixed headers chain
exactly to the payload's end (confirmed over several packets unless one carries a topic).
CoAP from its 4-byte header, token and option encoding parsed to the end; AMQP from its
protocol header or from frames that end with the 0xCE frame-end octet.
"""

from __future__ import annotations

import struct
from typing import Any

from sdnlab.vnfs.dpi import model as m
from sdnlab.vnfs.dpi.model import Context, Match, More, Result
from sdnlab.vnfs.dpi.protocols.base import DissectorBase, printable, text, varint_mqtt

_MQTT_NAMES = {b"\x00\x04MQTT": (4, 5), b"\x00\x06MQIsdp": (3,)}
_MQTT_VERSIONS = {3: "3.1", 4: "3.1.1", 5: "5.0"}
_MQTT_CONFIRMATIONS = 3  # header-only packets needed mid-stream before calling a flow MQTT


def _mqtt_connect(payload: bytes) -> dict[str, Any] | None:
    parsed = varint_mqtt(payload, 1)
    if parsed is None:
        return None
    _remaining, pos = parsed
    found = next(((n, lv) for n, lv in _MQTT_NAMES.items() if payload[pos : pos + len(n)] == n), None)
    if found is None:
        return None
    name, levels = found
    pos += len(name)
    if pos + 4 > len(payload):
        return None
    level, flags = payload[pos], payload[pos + 1]
    if level not in levels or flags & 0x01:
        return None
    pos += 4
    if level == 5:
        props = varint_mqtt(payload, pos)
        if props is None:
            return None
        pos = props[1] + props[0]
    if pos + 2 > len(payload):
        return {"version": _MQTT_VERSIONS[level]}
    size = struct.unpack_from("!H", payload, pos)[0]
    metadata: dict[str, Any] = {
        "version": _MQTT_VERSIONS[level],
        "client_id": text(payload[pos + 2 : pos + 2 + size], 128),
    }
    if flags & 0x80:  # user name present: reported, as nDPI does
        metadata["username_present"] = True
    return metadata


def _mqtt_chain(payload: bytes) -> tuple[bool, str | None] | None:
    """Check that the payload is whole MQTT packets: (valid, a topic seen) or None."""
    pos = 0
    topic = None
    while pos < len(payload):
        first = payload[pos]
        kind, flags = first >> 4, first & 0x0F
        if kind == 0 or kind == 15:
            return None
        if kind == 3:
            if flags & 0x06 == 0x06:
                return None
        elif kind in (6, 8, 10):
            if flags != 2:
                return None
        elif flags:
            return None
        parsed = varint_mqtt(payload, pos + 1)
        if parsed is None:
            return None
        remaining, body = parsed
        end = body + remaining
        if end > len(payload):
            return None
        if kind == 3 and topic is None:
            if remaining < 2:
                return None
            size = struct.unpack_from("!H", payload, body)[0]
            name = payload[body + 2 : body + 2 + size]
            if size == 0 or len(name) < size or 2 + size > remaining or not printable(name):
                return None
            topic = name.decode("ascii")
        pos = end
    return True, topic


class Mqtt(DissectorBase):
    """MQTT 3.1, 3.1.1 and 5.0 over TCP."""

    name = m.MQTT
    transports = frozenset({m.TCP})
    ports = frozenset({1883, 8883})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        if payload[:1] == b"\x10":
            connect = _mqtt_connect(payload)
            if connect is not None:
                return Match(m.MQTT, connect)
        chain = _mqtt_chain(payload)
        if chain is None:
            return None
        if chain[1] is not None:
            return Match(m.MQTT, {"topic": chain[1]})
        seen = (ctx.scratch or 0) + 1
        return Match(m.MQTT, {}) if seen >= _MQTT_CONFIRMATIONS else More(scratch=seen)


_COAP_METHODS = {1: "GET", 2: "POST", 3: "PUT", 4: "DELETE", 5: "FETCH", 6: "PATCH", 7: "iPATCH"}
_COAP_RESPONSE_CLASSES = frozenset((2, 4, 5))


def _coap(payload: bytes) -> dict[str, Any] | None:
    if len(payload) < 4:
        return None
    first, code = payload[0], payload[1]
    if first >> 6 != 1:
        return None
    tkl = first & 0x0F
    if tkl > 8:
        return None
    cls, detail = code >> 5, code & 0x1F
    if code == 0:
        return {"code": "empty"} if len(payload) == 4 and tkl == 0 else None
    if cls == 0:
        if detail not in _COAP_METHODS:
            return None
        label = _COAP_METHODS[detail]
    elif cls in _COAP_RESPONSE_CLASSES:
        if detail > 31:
            return None
        label = f"{cls}.{detail:02d}"
    else:
        return None
    pos = 4 + tkl
    if pos > len(payload):
        return None
    number = 0
    path: list[str] = []
    while pos < len(payload):
        byte = payload[pos]
        if byte == 0xFF:
            if pos + 1 == len(payload):
                return None  # a payload marker must be followed by payload
            break
        delta, length = byte >> 4, byte & 0x0F
        pos += 1
        if delta == 15 or length == 15:
            return None
        if delta == 13:
            delta = 13 + payload[pos] if pos < len(payload) else -1
            pos += 1
        elif delta == 14:
            delta = 269 + int.from_bytes(payload[pos : pos + 2], "big") if pos + 2 <= len(payload) else -1
            pos += 2
        if length == 13:
            length = 13 + payload[pos] if pos < len(payload) else -1
            pos += 1
        elif length == 14:
            length = 269 + int.from_bytes(payload[pos : pos + 2], "big") if pos + 2 <= len(payload) else -1
            pos += 2
        if delta < 0 or length < 0 or pos + length > len(payload):
            return None
        number += delta
        if number == 11:
            path.append(payload[pos : pos + length].decode("utf-8", "replace"))
        pos += length
    metadata: dict[str, Any] = {"code": label}
    if path:
        metadata["uri_path"] = "/" + "/".join(path)
    return metadata


class Coap(DissectorBase):
    """CoAP (RFC 7252) over UDP."""

    name = m.COAP
    transports = frozenset({m.UDP})
    ports = frozenset({5683, 5684})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        metadata = _coap(payload)
        if metadata is None:
            return None
        if metadata["code"] == "empty":  # a 4-byte ping/ack alone is too little evidence
            return More(scratch=ctx.scratch)
        return Match(m.COAP, metadata)


_AMQP_HEADER = b"AMQP"
_AMQP_FRAME_TYPES = frozenset((1, 2, 3, 4, 8))
_AMQP_CLASSES = {
    10: "connection",
    20: "channel",
    40: "exchange",
    50: "queue",
    60: "basic",
    85: "confirm",
    90: "tx",
}


class Amqp(DissectorBase):
    """AMQP 0-9-1 (and the 1.0 protocol header) over TCP."""

    name = m.AMQP
    transports = frozenset({m.TCP})
    ports = frozenset({5672, 5671})

    def detect(self, payload: bytes, ctx: Context) -> Result:
        if payload[:4] == _AMQP_HEADER:
            if len(payload) == 8:
                return Match(m.AMQP, {"version": ".".join(str(b) for b in payload[5:8])})
            return None
        stream = ctx.stream
        pos = 0
        first_class = None
        while pos + 7 <= len(stream):
            kind, _channel, size = struct.unpack_from("!BHI", stream, pos)
            end = pos + 7 + size
            if kind not in _AMQP_FRAME_TYPES or size > 1 << 20:
                return None
            if end >= len(stream):  # the frame continues in a later segment
                return More() if pos == 0 and ctx.index < 4 else self._verdict(pos, first_class)
            if stream[end] != 0xCE:
                return None
            if kind == 1 and first_class is None and size >= 4:
                class_id = struct.unpack_from("!H", stream, pos + 7)[0]
                if class_id not in _AMQP_CLASSES:
                    return None
                first_class = _AMQP_CLASSES[class_id]
            pos = end + 1
        return self._verdict(pos, first_class)

    @staticmethod
    def _verdict(pos: int, first_class: str | None) -> Result:
        if pos == 0:
            return None
        return Match(m.AMQP, {"class": first_class} if first_class else {})
