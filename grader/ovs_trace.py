"""Read what real Open vSwitch says about a packet: ``ofproto/trace`` datapath actions.

Used to check the offline model against OVS (differential tests) and by live confirmation.
``datapath_outputs`` replays the "Datapath actions:" line (``set(...)``, ``push_vlan``,
``pop_vlan``, ``clone(...)``, port numbers, ``userspace(...controller...)``) on the header
fields of the input packet and returns the same shape ``trace_packet`` gives: outputs with
OpenFlow port numbers (translated with ``dpif/show``) and the fields each copy carried.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
from collections.abc import Callable
from typing import Any

from sdnlab.grader.fields import OFPP_LOCAL
from sdnlab.grader.ofctl_text import split_top

Fmt = Callable[..., Any]  # formats a field value (text -> int with inverse=True, int -> text)


class UnsupportedTrace(Exception):
    """The datapath actions use something this replay does not model (recirculation, ...)."""


def odp_port_map(bridge: str, dpif_show: str) -> dict[int, int]:
    """Datapath port number -> OpenFlow port number for ``bridge`` from ``ovs-appctl dpif/show``."""
    mapping, current = {}, None
    for line in dpif_show.splitlines():
        if re.match(r"^  \S+:$", line):
            current = line.strip()[:-1]
            continue
        m = re.match(r"^\s+(\S+) (\d+)/(\d+):", line)
        if m and current == bridge:
            ofport, odp = int(m.group(2)), int(m.group(3))
            mapping[odp] = OFPP_LOCAL if ofport == 65534 else ofport
    return mapping


def _set_fields(fields: dict[str, Any], kind: str, body: str) -> None:
    values: dict[str, tuple[str, str]] = {}
    for item in split_top(body):
        key, _, text = item.partition("=")
        value, _, mask = text.partition("/")
        values[key] = (value, mask)

    def put(name: str, raw: str, mask: str, fmt: Fmt) -> None:
        if mask:
            old = fmt(fields.get(name, 0), inverse=True)
            new = fmt(raw, inverse=True)
            m = fmt(mask, inverse=True)
            raw_int = (old & ~m) | (new & m)
            fields[name] = fmt(raw_int)
        else:
            fields[name] = fmt(fmt(raw, inverse=True))

    def mac(v: Any, inverse: bool = False) -> Any:
        if inverse:
            return int(str(v).replace(":", ""), 16) if isinstance(v, str) else v
        raw = f"{v:012x}"
        return ":".join(raw[i : i + 2] for i in range(0, 12, 2))

    def ip4(v: Any, inverse: bool = False) -> Any:
        if inverse:
            return int(ipaddress.IPv4Address(v)) if isinstance(v, str) else v
        return str(ipaddress.IPv4Address(v))

    def ip6(v: Any, inverse: bool = False) -> Any:
        if inverse:
            return int(ipaddress.IPv6Address(v)) if isinstance(v, str) else v
        return str(ipaddress.IPv6Address(v))

    def num(v: Any, inverse: bool = False) -> Any:
        if inverse:
            return int(v, 0) if isinstance(v, str) else v
        return v

    if kind == "eth":
        for key, name in (("src", "dl_src"), ("dst", "dl_dst")):
            if key in values:
                put(name, *values[key], mac)
    elif kind == "ipv4":
        for key, name in (("src", "nw_src"), ("dst", "nw_dst")):
            if key in values:
                put(name, *values[key], ip4)
        if "tos" in values:
            tos_raw, tos_mask = values["tos"]
            old = (fields.get("nw_tos", 0)) | fields.get("nw_ecn", 0)
            new = int(tos_raw, 0)
            bits = int(tos_mask, 0) if tos_mask else 0xFF
            tos = (old & ~bits) | (new & bits)
            fields["nw_tos"], fields["nw_ecn"] = tos & 0xFC, tos & 0x03
        if "ttl" in values:
            put("nw_ttl", *values["ttl"], num)
    elif kind == "ipv6":
        for key, name in (("src", "ipv6_src"), ("dst", "ipv6_dst")):
            if key in values:
                put(name, *values[key], ip6)
        if "hlimit" in values:
            put("nw_ttl", *values["hlimit"], num)
    elif kind in ("tcp", "udp", "sctp"):
        for key, name in (("src", "tp_src"), ("dst", "tp_dst")):
            if key in values:
                put(name, *values[key], num)
    elif kind in ("icmp", "icmpv6"):
        for key, name in (("type", "icmp_type"), ("code", "icmp_code")):
            if key in values:
                put(name, *values[key], num)
    elif kind == "arp":
        formats: tuple[tuple[str, str, Fmt], ...] = (
            ("sip", "arp_spa", ip4),
            ("tip", "arp_tpa", ip4),
            ("sha", "arp_sha", mac),
            ("tha", "arp_tha", mac),
            ("op", "arp_op", num),
        )
        for key, name, fmt in formats:
            if key in values:
                put(name, *values[key], fmt)
    elif kind in ("skb_priority", "skb_mark", "tunnel", "ct_state", "recirc_id", "dp_hash"):
        return
    else:
        raise UnsupportedTrace(f"set({kind}(...))")


def replay_actions(actions: str, fields: dict[str, Any], port_map: dict[int, int]) -> dict[str, Any]:
    """Replay a datapath action list on ``fields``: {"outputs": [...], "controller": bool}."""
    outputs: list[dict[str, Any]] = []
    controller = False
    for action in split_top(actions.strip()):
        if action == "drop":
            continue
        if action.isdigit():
            odp = int(action)
            if odp not in port_map:
                raise UnsupportedTrace(f"unknown datapath port {odp}")
            outputs.append({"port": port_map[odp], "fields": dict(fields)})
            continue
        name, _, body = action.partition("(")
        body = body[:-1] if body.endswith(")") else body
        if name in ("set", "set_masked"):
            kind, _, inner = body.partition("(")
            _set_fields(fields, kind, inner[:-1] if inner.endswith(")") else inner)
        elif name == "push_vlan":
            tag = {key: value for key, _, value in (item.partition("=") for item in split_top(body))}
            fields["dl_vlan"] = int(tag.get("vid", "0"), 0)
            fields["dl_vlan_pcp"] = int(tag.get("pcp", "0"), 0)
        elif name == "pop_vlan":
            fields.pop("dl_vlan", None)
            fields.pop("dl_vlan_pcp", None)
        elif name == "clone":
            cloned = replay_actions(body, dict(fields), port_map)
            outputs.extend(cloned["outputs"])
            controller = controller or bool(cloned["controller"])
        elif name == "userspace":
            if "controller(" in body:
                controller = True
        elif name in ("meter",):
            continue
        else:
            raise UnsupportedTrace(f"datapath action {name}")
    return {"outputs": outputs, "controller": controller}


def datapath_actions(trace_text: str) -> str:
    """The text after "Datapath actions:" in an ofproto/trace output."""
    for line in trace_text.splitlines():
        if line.startswith("Datapath actions:"):
            return line.split(":", 1)[1].strip()
    raise UnsupportedTrace("no 'Datapath actions:' line")


def ofproto_trace(bridge: str, packet: str) -> str:
    """Run ``ovs-appctl ofproto/trace`` and return its text (raises on failure)."""
    proc = subprocess.run(
        ["ovs-appctl", "ofproto/trace", bridge, packet], capture_output=True, text=True, timeout=20
    )
    if proc.returncode != 0:
        raise UnsupportedTrace(proc.stderr.strip() or proc.stdout.strip())
    return proc.stdout
