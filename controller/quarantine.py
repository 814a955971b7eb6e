"""Quarantine entries: what a request or config may name, checked before anything changes.

A quarantine names a host by MAC, IPv4 address or declared name. ``parse_quarantine_request``
turns a REST body into a typed ``QuarantineRequest`` (raising ``BadRequest`` naming the field),
``resolve`` turns a key into a ``Quarantined`` entry with a normalised MAC and IP, and
``quarantine_msgs`` builds the drop rules. Only entries built here ever reach the fabric, so a
bad value is refused at the edge and never stops a switch from being programmed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from sdnlab.controller import ofmsg
from sdnlab.controller.network import DiscoveredNetwork
from sdnlab.controller.ofctl_values import BadRequest
from sdnlab.controller.pipeline import COOKIE_BUILTIN, INGRESS, PRIORITY_QUARANTINE

MAX_REASON_CHARS = 200
MAX_KEY_CHARS = 64
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")

KeyKind = Literal["ip", "mac", "host"]


@dataclass(frozen=True)
class Quarantined:
    """A host whose traffic is dropped at every switch (MAC lower-case, IP dotted-quad)."""

    mac: str | None
    ip: str | None
    reason: str = ""


@dataclass(frozen=True)
class QuarantineRequest:
    """A checked ``POST /sdnlab/quarantine`` body: one key of a known kind and a reason."""

    kind: KeyKind
    value: str
    reason: str = ""


def parse_mac(text: str) -> str | None:
    """``text`` as a lower-case ``aa:bb:cc:dd:ee:ff`` MAC, or None if it is not one."""
    mac = text.lower()
    return mac if _MAC.fullmatch(mac) else None


def parse_ipv4(text: str) -> str | None:
    """``text`` as a dotted-quad IPv4 address, or None if it is not one."""
    if len(text) > 15:
        return None
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


def parse_quarantine_request(body: dict) -> QuarantineRequest:
    """The typed request in a quarantine body, or ``BadRequest`` naming the field."""
    keys = [k for k in ("ip", "mac", "host") if k in body]
    unknown = sorted(str(k) for k in body if k not in ("ip", "mac", "host", "reason"))
    if unknown:
        raise BadRequest(f"{unknown[0]}: unknown field (expected ip, mac or host, and reason)")
    if len(keys) != 1:
        raise BadRequest("body: give exactly one of ip, mac or host (a string)")
    kind: KeyKind = keys[0]  # type: ignore[assignment]  # narrowed by the tuple above
    value = body[kind]
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{kind}: expected a non-empty string, got {_short(value)}")
    if kind == "ip" and parse_ipv4(value) is None:
        raise BadRequest(f"ip: {_short(value)} is not an IPv4 address")
    if kind == "mac" and parse_mac(value) is None:
        raise BadRequest(f"mac: {_short(value)} is not a MAC address (aa:bb:cc:dd:ee:ff)")
    if kind == "host" and (len(value) > MAX_KEY_CHARS or not value.isprintable()):
        raise BadRequest(f"host: {_short(value)} is not a host name")
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS or not reason.isprintable():
        raise BadRequest(f"reason: expected printable text of at most {MAX_REASON_CHARS} characters")
    return QuarantineRequest(kind, value, reason)


def resolve(key: str, state: DiscoveredNetwork, reason: str = "") -> Quarantined | None:
    """The entry for a host named by MAC, IP or declared name; None if ``key`` is none of these."""
    host = state.host_by(key) if len(key) <= MAX_KEY_CHARS else None
    if host is not None:
        return Quarantined(host.mac, host.ip, reason)
    mac = parse_mac(key)
    if mac is not None:
        return Quarantined(mac, None, reason)
    ip = parse_ipv4(key)
    if ip is not None:
        return Quarantined(None, ip, reason)
    return None


def quarantine_msgs(entry: Quarantined, add: bool = True) -> list:
    """Drop (or stop dropping) everything ``entry`` sends, in table INGRESS."""
    matches = []
    if entry.mac:
        matches.append(ofmsg.match(eth_src=entry.mac))
    if entry.ip:
        matches.append(ofmsg.match(eth_type=ofmsg.ETH_TYPE_IP, ipv4_src=entry.ip))
        matches.append(ofmsg.match(eth_type=ofmsg.ETH_TYPE_ARP, arp_spa=entry.ip))
    if add:
        return [
            ofmsg.flow_add(INGRESS.table_id, PRIORITY_QUARANTINE, m, [], cookie=COOKIE_BUILTIN)
            for m in matches
        ]
    return [ofmsg.flow_delete(INGRESS.table_id, m, priority=PRIORITY_QUARANTINE) for m in matches]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
