"""Firewall rules as data: the validated, immutable model and the first-match evaluation.

A rule matches on ingress port/direction, protocol, source and destination CIDRs (IPv4 or
IPv6), port ranges and ICMP type/code; every field left out matches anything. Rules are
tried in order and the first match decides (``accept``, ``drop`` or ``reject``); when none
matches the default policy applies. Matching is a pure function of the packet fields.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from sdnlab.vnfs.framework.config import Fields, to_choice, to_int, to_port_range, to_str

ACTIONS = ("accept", "drop", "reject")
DIRECTIONS = ("inbound", "outbound")
PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "sctp": 132, "gre": 47, "esp": 50}
REJECT_WITH = ("auto", "tcp-reset", "port-unreachable", "host-unreachable", "admin-prohibited")


@dataclass(frozen=True, slots=True)
class Cidr:
    """One network: version, network address and mask as ints (addresses are ints in Packet)."""

    version: int
    network: int
    mask: int
    text: str

    def contains(self, version: int, address: int) -> bool:
        """True when ``address`` of IP ``version`` is inside this network."""
        return version == self.version and (address & self.mask) == self.network


@dataclass(frozen=True, slots=True)
class Rule:
    """One ordered firewall rule; ``None`` fields match anything."""

    name: str
    action: str
    line: int = 0
    proto: int | None = None
    src: tuple[Cidr, ...] | None = None
    dst: tuple[Cidr, ...] | None = None
    sport: tuple[tuple[int, int], ...] | None = None
    dport: tuple[tuple[int, int], ...] | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    iface: str | None = None
    direction: str | None = None
    reject_with: str = "auto"

    def matches(self, packet: Any, in_port: str, iface: str, inbound: bool) -> bool:
        """True when the parsed ``packet`` arriving on ``in_port``/``iface`` matches this rule."""
        if self.proto is not None and packet.ip_proto != self.proto:
            return False
        if self.iface is not None and self.iface != in_port and self.iface != iface:
            return False
        if self.direction is not None and inbound != (self.direction == "inbound"):
            return False
        version = packet.ip_version
        if self.src is not None:
            address = packet.ip_src
            if not any(c.contains(version, address) for c in self.src):
                return False
        if self.dst is not None:
            address = packet.ip_dst
            if not any(c.contains(version, address) for c in self.dst):
                return False
        if self.sport is not None:
            port = packet.l4_src
            if packet.l4_offset < 0 or not any(lo <= port <= hi for lo, hi in self.sport):
                return False
        if self.dport is not None:
            port = packet.l4_dst
            if packet.l4_offset < 0 or not any(lo <= port <= hi for lo, hi in self.dport):
                return False
        if self.icmp_type is not None and packet.icmp_type != self.icmp_type:
            return False
        return not (self.icmp_code is not None and packet.icmp_code != self.icmp_code)


def first_match(rules: tuple[Rule, ...], packet: Any, in_port: str, iface: str, inbound: bool) -> Rule | None:
    """The first rule matching the packet, or None (then the default policy applies)."""
    for rule in rules:
        if rule.matches(packet, in_port, iface, inbound):
            return rule
    return None


# ----- parsing from YAML ------------------------------------------------------------------


def to_proto(value: Any) -> int:
    """Converter from 'tcp'/'udp'/... or a protocol number to the IP protocol number."""
    if isinstance(value, str) and value.lower() in PROTOCOLS:
        return PROTOCOLS[value.lower()]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        return value
    raise ValueError(f"expected one of {', '.join(PROTOCOLS)} or a number 0..255")


def to_cidr(value: Any) -> Cidr:
    """Converter from '10.0.0.0/8', '10.0.0.1' or an IPv6 prefix to a Cidr."""
    try:
        net = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise ValueError("expected an address or CIDR such as 10.0.0.0/8") from None
    return Cidr(net.version, int(net.network_address), int(net.netmask), str(net))


def to_cidrs(value: Any) -> tuple[Cidr, ...]:
    """Converter from one CIDR or a list of them."""
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError("expected at least one address")
    return tuple(to_cidr(v) for v in values)


def to_port_ranges(value: Any) -> tuple[tuple[int, int], ...]:
    """Converter from 80, '1000-2000' or a list of those (a list of two ints is two ports)."""
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError("expected at least one port")
    return tuple(to_port_range(v) for v in values)


def parse_rule(fields: Fields, index: int) -> Rule | None:
    """One rule from its YAML mapping (errors recorded on ``fields``)."""
    rule = Rule(
        name=fields.get("name", to_str, f"rule{index}"),
        action=fields.get("action", to_choice(*ACTIONS)),
        line=fields.line,
        proto=fields.get("proto", to_proto, None),
        src=fields.get("src", to_cidrs, None, "expected an address, CIDR or list of them"),
        dst=fields.get("dst", to_cidrs, None, "expected an address, CIDR or list of them"),
        sport=fields.get("sport", to_port_ranges, None, "expected a port, range 1000-2000 or list"),
        dport=fields.get("dport", to_port_ranges, None, "expected a port, range 1000-2000 or list"),
        icmp_type=fields.get("icmp_type", to_int(0, 255), None),
        icmp_code=fields.get("icmp_code", to_int(0, 255), None),
        iface=fields.get("iface", to_str, None),
        direction=fields.get("direction", to_choice(*DIRECTIONS), None),
        reject_with=fields.get("reject_with", to_choice(*REJECT_WITH), "auto"),
    )
    fields.reject_unknown()
    if (rule.sport or rule.dport) and rule.proto not in (6, 17, 132):
        fields.error("dport" if rule.dport else "sport", "ports need proto: tcp, udp or sctp")
    if (rule.icmp_type is not None or rule.icmp_code is not None) and rule.proto not in (1, 58):
        fields.error(
            "icmp_type" if rule.icmp_type is not None else "icmp_code",
            "ICMP fields need proto: icmp or icmpv6",
        )
    if rule.reject_with == "tcp-reset" and rule.proto != 6:
        fields.error("reject_with", "tcp-reset needs proto: tcp")
    return rule
