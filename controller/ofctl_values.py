"""Typed checking of ofctl values: match fields, action arguments and flow/group/meter numbers.

Every value a REST body carries is checked against the width OpenFlow 1.3 gives it before a
message is built, and returned in canonical form (integers as ``int``, reserved names such as
``"CONTROLLER"`` resolved, addresses validated and kept as text, masks as ``"value/mask"``), so
os-ken's ofctl converters never see a value they would reject with a traceback or silently
truncate (``tp_dst: 99999`` must not become 34463 on the wire). A bad value raises
``BadRequest`` naming the field and the value.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re

from os_ken.ofproto import ofproto_v1_3 as ofp

from sdnlab.controller.errors import ControllerError

UINT8, UINT16, UINT32, UINT64 = 2**8 - 1, 2**16 - 1, 2**32 - 1, 2**64 - 1


class BadRequest(ControllerError):
    """The request body or a path parameter is invalid (HTTP 400)."""


_MAC = re.compile(r"^[0-9a-fA-F]{1,2}([:-])[0-9a-fA-F]{1,2}(\1[0-9a-fA-F]{1,2}){4}$")


def _show(value) -> str:
    """``repr(value)``, cut to 60 characters so a huge value never fills an error message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def to_int(value, where: str, maximum: int, minimum: int = 0) -> int:
    """An integer in ``minimum..maximum`` from an int or decimal/``0x`` hex text."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadRequest(f"{where}: expected an integer, got {_show(value)}")
    if isinstance(value, int):
        number = value
    else:
        try:
            number = int(value.strip(), 0)
        except ValueError:
            raise BadRequest(f"{where}: expected an integer, got {_show(value)}") from None
    if not minimum <= number <= maximum:
        raise BadRequest(f"{where}: {_show(value)} is out of range ({minimum}..{maximum})")
    return number


def to_reserved(value, where: str, prefix: str, maximum: int = UINT32) -> int:
    """A port/group/meter/table number, or a reserved name (``CONTROLLER``, ``OFPP_LOCAL``, ``ALL``)."""
    if isinstance(value, str) and value.strip() and not value.strip()[0].isdigit():
        name = value.strip().upper()
        number = getattr(ofp, name if name.startswith(prefix) else prefix + name, None)
        if not isinstance(number, int):
            raise BadRequest(
                f"{where}: expected a number or a reserved name ({prefix}...), got {_show(value)}"
            )
        return number
    return to_int(value, where, maximum)


def to_masked_int(value, where: str, maximum: int) -> int | str:
    """An integer, or ``"value/mask"`` text with both parts in range."""
    if isinstance(value, str) and "/" in value:
        head, _, mask = value.partition("/")
        return f"{to_int(head, where, maximum)}/{to_int(mask, where + ' mask', maximum)}"
    return to_int(value, where, maximum)


def to_mac(value, where: str) -> str:
    """A MAC address, optionally ``"mac/mask"``."""
    if not isinstance(value, str):
        raise BadRequest(f"{where}: expected a MAC address, got {_show(value)}")
    for part in value.split("/", 1):
        if not _MAC.match(part):
            raise BadRequest(f"{where}: invalid MAC address {_show(value)}")
    return value


def to_ip(value, where: str, version: int) -> str:
    """An IPv4/IPv6 address, optionally with ``/prefixlen`` or ``/netmask``."""
    if not isinstance(value, str):
        raise BadRequest(f"{where}: expected an IPv{version} address, got {_show(value)}")
    address_type = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    bits = 32 if version == 4 else 128
    address, _, mask = value.partition("/")
    try:
        address_type(address)
        if mask and mask.isdigit():
            if int(mask) > bits:
                raise ValueError(f"prefix length {mask} > {bits}")
        elif mask:
            address_type(mask)
    except ValueError:
        raise BadRequest(f"{where}: invalid IPv{version} address {_show(value)}") from None
    return value


def to_vlan_vid(value, where: str) -> int | str:
    """ofctl's vlan_vid: a VLAN id 0..4095 (decimal, OFPVID_PRESENT added) or hex oxm value[/mask]."""
    if isinstance(value, int) and not isinstance(value, bool):
        return to_int(value, where, 4095)
    if isinstance(value, str) and value.strip().isdigit():
        return str(to_int(value, where, 4095))
    if isinstance(value, str) and "/" in value:
        head, _, mask = value.partition("/")
        return f"{to_int(head, where, 0x1FFF)}/{to_int(mask, where + ' mask', 0x1FFF)}"
    return hex(to_int(value, where, 0x1FFF))


def _uint(maximum):
    return lambda value, where: to_int(value, where, maximum)


def _masked(maximum):
    return lambda value, where: to_masked_int(value, where, maximum)


_IPV4 = lambda value, where: to_ip(value, where, 4)  # noqa: E731
_IPV6 = lambda value, where: to_ip(value, where, 6)  # noqa: E731

# Each match field ofctl accepts for OpenFlow 1.3 (with Ryu's OF1.0-style aliases) and its checker.
MATCH_FIELD_TYPES = {
    "in_port": lambda value, where: to_reserved(value, where, "OFPP_"),
    "in_phy_port": _uint(UINT32),
    "metadata": _masked(UINT64),
    "dl_dst": to_mac,
    "dl_src": to_mac,
    "eth_dst": to_mac,
    "eth_src": to_mac,
    "dl_type": _uint(UINT16),
    "eth_type": _uint(UINT16),
    "dl_vlan": to_vlan_vid,
    "vlan_vid": to_vlan_vid,
    "vlan_pcp": _uint(7),
    "ip_dscp": _uint(63),
    "ip_ecn": _uint(3),
    "nw_proto": _uint(UINT8),
    "ip_proto": _uint(UINT8),
    "nw_src": _IPV4,
    "nw_dst": _IPV4,
    "ipv4_src": _IPV4,
    "ipv4_dst": _IPV4,
    "tp_src": _uint(UINT16),
    "tp_dst": _uint(UINT16),
    "tcp_src": _uint(UINT16),
    "tcp_dst": _uint(UINT16),
    "udp_src": _uint(UINT16),
    "udp_dst": _uint(UINT16),
    "sctp_src": _uint(UINT16),
    "sctp_dst": _uint(UINT16),
    "icmpv4_type": _uint(UINT8),
    "icmpv4_code": _uint(UINT8),
    "arp_op": _uint(UINT16),
    "arp_spa": _IPV4,
    "arp_tpa": _IPV4,
    "arp_sha": to_mac,
    "arp_tha": to_mac,
    "ipv6_src": _IPV6,
    "ipv6_dst": _IPV6,
    "ipv6_flabel": _uint(2**20 - 1),
    "icmpv6_type": _uint(UINT8),
    "icmpv6_code": _uint(UINT8),
    "ipv6_nd_target": _IPV6,
    "ipv6_nd_sll": to_mac,
    "ipv6_nd_tll": to_mac,
    "mpls_label": _uint(2**20 - 1),
    "mpls_tc": _uint(7),
    "mpls_bos": _uint(1),
    "pbb_isid": _masked(2**24 - 1),
    "tunnel_id": _masked(UINT64),
    "ipv6_exthdr": _masked(2**9 - 1),
}
MATCH_FIELDS = frozenset(MATCH_FIELD_TYPES)
TRANSPORT_PORT_FIELDS = ("tp_src", "tp_dst")
# Ryu's OF1.0-style aliases and their OXM names (SET_FIELD takes OXM names only).
OXM_NAMES = {
    "dl_dst": "eth_dst",
    "dl_src": "eth_src",
    "dl_type": "eth_type",
    "dl_vlan": "vlan_vid",
    "nw_src": "ipv4_src",
    "nw_dst": "ipv4_dst",
    "nw_proto": "ip_proto",
    "tp_src": "tcp_src/udp_src",
    "tp_dst": "tcp_dst/udp_dst",
}
SET_FIELD_NAMES = MATCH_FIELDS - set(OXM_NAMES)
IP_PROTOCOLS_WITH_TP = {6: "tcp", 17: "udp"}


def check_match(match, where: str = "match") -> dict:
    """A match object with every field known and every value in range, in canonical form."""
    if match is None:
        return {}
    if not isinstance(match, dict):
        raise BadRequest(f"{where}: expected an object, got {type(match).__name__}")
    unknown = sorted(set(match) - MATCH_FIELDS)
    if unknown:
        raise BadRequest(f"{where}: unknown match field {unknown[0]!r}")
    result = {name: MATCH_FIELD_TYPES[name](value, f"{where}.{name}") for name, value in match.items()}
    proto = result.get("nw_proto", result.get("ip_proto"))
    for name in TRANSPORT_PORT_FIELDS:
        if name in result and proto not in IP_PROTOCOLS_WITH_TP:
            raise BadRequest(
                f"{where}.{name}: needs nw_proto (or ip_proto) 6 (tcp) or 17 (udp), got {proto!r}"
            )
    return result


def _optional(action, name, checker, where, default=None):
    if name not in action:
        return default
    return checker(action[name], f"{where}.{name}")


def _required(action, name, checker, where, kind):
    if name not in action:
        raise BadRequest(f"{where}.{name}: {kind} needs {name}")
    return checker(action[name], f"{where}.{name}")


def _table(value, where):
    return to_int(value, where, ofp.OFPTT_MAX)


# Per action type: (argument name, checker, required) for its arguments.
ACTION_ARGUMENTS = {
    "OUTPUT": (
        ("port", lambda v, w: to_reserved(v, w, "OFPP_"), True),
        ("max_len", lambda v, w: to_reserved(v, w, "OFPCML_", UINT16), False),
    ),
    "COPY_TTL_OUT": (),
    "COPY_TTL_IN": (),
    "DEC_MPLS_TTL": (),
    "POP_VLAN": (),
    "DEC_NW_TTL": (),
    "POP_PBB": (),
    "SET_MPLS_TTL": (("mpls_ttl", _uint(UINT8), True),),
    "PUSH_VLAN": (("ethertype", _uint(UINT16), True),),
    "PUSH_MPLS": (("ethertype", _uint(UINT16), True),),
    "POP_MPLS": (("ethertype", _uint(UINT16), True),),
    "PUSH_PBB": (("ethertype", _uint(UINT16), True),),
    "SET_QUEUE": (("queue_id", lambda v, w: to_reserved(v, w, "OFPQ_"), True),),
    "GROUP": (("group_id", lambda v, w: to_reserved(v, w, "OFPG_"), True),),
    "SET_NW_TTL": (("nw_ttl", _uint(UINT8), True),),
    "GOTO_TABLE": (("table_id", _table, True),),
    "WRITE_METADATA": (("metadata", _uint(UINT64), True), ("metadata_mask", _uint(UINT64), False)),
    "METER": (("meter_id", lambda v, w: to_reserved(v, w, "OFPM_"), True),),
    "EXPERIMENTER": (("experimenter", _uint(UINT32), True),),
    "CLEAR_ACTIONS": (),
}
ACTION_TYPES = frozenset(ACTION_ARGUMENTS) | {"SET_FIELD", "WRITE_ACTIONS", "COPY_FIELD"}


def check_action(action, where: str, nested: bool = False) -> dict:
    """One ofctl action (or instruction) with its arguments checked, in canonical form."""
    if not isinstance(action, dict):
        raise BadRequest(f"{where}: expected an object, got {type(action).__name__}")
    kind = action.get("type")
    if not isinstance(kind, str) or kind not in ACTION_TYPES:
        raise BadRequest(f"{where}.type: unknown action type {kind!r}")
    if kind == "COPY_FIELD":
        raise BadRequest(f"{where}.type: COPY_FIELD is OpenFlow 1.5, not available on OpenFlow 1.3")
    if nested and kind in ("GOTO_TABLE", "WRITE_METADATA", "METER", "CLEAR_ACTIONS", "WRITE_ACTIONS"):
        raise BadRequest(f"{where}.type: {kind} is an instruction, not allowed inside WRITE_ACTIONS")
    result = dict(action)
    if kind == "SET_FIELD":
        field = action.get("field")
        if not isinstance(field, str):
            raise BadRequest(f"{where}.field: expected a field name, got {_show(field)}")
        if field not in SET_FIELD_NAMES:
            hint = f" (use its OXM name {OXM_NAMES[field]!r})" if field in OXM_NAMES else ""
            raise BadRequest(f"{where}.field: unknown field {field!r}{hint}")
        if "value" not in action:
            raise BadRequest(f"{where}.value: SET_FIELD needs a value")
        result["value"] = _set_field_value(field, action["value"], f"{where}.value")
    elif kind == "WRITE_ACTIONS":
        result["actions"] = check_actions(action.get("actions"), f"{where}.actions", nested=True)
    elif kind == "EXPERIMENTER":
        result["experimenter"] = _required(action, "experimenter", _uint(UINT32), where, kind)
        data_type = action.get("data_type", "ascii")
        if data_type not in ("ascii", "base64"):
            raise BadRequest(f"{where}.data_type: expected 'ascii' or 'base64', got {data_type!r}")
        data = action.get("data", "")
        if not isinstance(data, str):
            raise BadRequest(f"{where}.data: expected text, got {_show(data)}")
        if data_type == "base64":
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"{where}.data: invalid base64 {_show(data)}") from None
    else:
        for name, checker, required in ACTION_ARGUMENTS[kind]:
            if required:
                result[name] = _required(action, name, checker, where, kind)
            elif name in action:
                result[name] = checker(action[name], f"{where}.{name}")
    return result


def _set_field_value(field, value, where):
    """SET_FIELD values are raw OXM values: no masks, and vlan_vid as the plain id."""
    if isinstance(value, str) and "/" in value:
        raise BadRequest(f"{where}: SET_FIELD {field} takes no mask, got {_show(value)}")
    if field in ("dl_vlan", "vlan_vid"):
        return to_int(value, where, 0x1FFF)
    checked = MATCH_FIELD_TYPES[field](value, where)
    return int(checked, 0) if isinstance(checked, str) and checked.isdigit() else checked


def check_actions(actions, where: str = "actions", nested: bool = False) -> list:
    """A list of ofctl actions, each checked by ``check_action``."""
    if actions is None:
        return []
    if not isinstance(actions, list):
        raise BadRequest(f"{where}: expected a list, got {type(actions).__name__}")
    return [check_action(action, f"{where}[{index}]", nested) for index, action in enumerate(actions)]


# The numeric fields of a flow entry (and a flow stats filter): checker by name.
FLOW_NUMBERS = {
    "priority": _uint(UINT16),
    "idle_timeout": _uint(UINT16),
    "hard_timeout": _uint(UINT16),
    "cookie": _uint(UINT64),
    "cookie_mask": _uint(UINT64),
    "flags": _uint(UINT16),
    "buffer_id": lambda v, w: (
        _buffer_name(v, w) if isinstance(v, str) and v[:1].isalpha() else to_int(v, w, UINT32)
    ),
    "out_port": lambda v, w: to_reserved(v, w, "OFPP_"),
    "out_group": lambda v, w: to_reserved(v, w, "OFPG_"),
}


def _buffer_name(value, where):
    if value.strip().upper() in ("NO_BUFFER", "OFP_NO_BUFFER"):
        return ofp.OFP_NO_BUFFER
    raise BadRequest(f"{where}: expected a number or NO_BUFFER, got {_show(value)}")


def check_table_id(value, where: str = "table_id", allow_all: bool = False) -> int:
    """A table number 0..254, or ``ALL``/255 where every table is meant (delete, stats)."""
    if allow_all and (
        value == ofp.OFPTT_ALL or (isinstance(value, str) and value.strip().upper() in ("ALL", "OFPTT_ALL"))
    ):
        return ofp.OFPTT_ALL
    return to_int(value, where, ofp.OFPTT_MAX)


def check_flow_numbers(entry: dict, allow_all_tables: bool) -> dict:
    """The flow entry's numeric fields checked and canonical (other keys unchanged)."""
    result = dict(entry)
    for name, checker in FLOW_NUMBERS.items():
        if name in entry:
            result[name] = checker(entry[name], name)
    if "table_id" in entry:
        result["table_id"] = check_table_id(entry["table_id"], allow_all=allow_all_tables)
    return result


# ofctl_rest's names and their OpenFlow 1.3 values (checked here, looked up by the message builders)
GROUP_TYPES = {
    "ALL": ofp.OFPGT_ALL,
    "SELECT": ofp.OFPGT_SELECT,
    "INDIRECT": ofp.OFPGT_INDIRECT,
    "FF": ofp.OFPGT_FF,
}
METER_FLAGS = {
    "KBPS": ofp.OFPMF_KBPS,
    "PKTPS": ofp.OFPMF_PKTPS,
    "BURST": ofp.OFPMF_BURST,
    "STATS": ofp.OFPMF_STATS,
}
METER_BANDS = ("DROP", "DSCP_REMARK")


def check_group(group: dict) -> dict:
    """A groupentry body (without dpid handling) with type, id, buckets and actions checked."""
    result = dict(group)
    kind = group.get("type", "ALL")
    if not isinstance(kind, str) or kind not in GROUP_TYPES:
        raise BadRequest(f"type: unknown group type {kind!r} (expected ALL, SELECT, INDIRECT or FF)")
    if "group_id" in group:
        result["group_id"] = to_int(group["group_id"], "group_id", ofp.OFPG_MAX)
    buckets = group.get("buckets", [])
    if not isinstance(buckets, list):
        raise BadRequest(f"buckets: expected a list, got {_show(buckets)}")
    checked = []
    for index, bucket in enumerate(buckets):
        where = f"buckets[{index}]"
        if not isinstance(bucket, dict):
            raise BadRequest(f"{where}: expected an object, got {_show(bucket)}")
        item = dict(bucket)
        item["weight"] = _optional(bucket, "weight", _uint(UINT16), where, 0)
        item["watch_port"] = _optional(
            bucket, "watch_port", lambda v, w: to_reserved(v, w, "OFPP_"), where, ofp.OFPP_ANY
        )
        item["watch_group"] = _optional(
            bucket, "watch_group", lambda v, w: to_reserved(v, w, "OFPG_"), where, ofp.OFPG_ANY
        )
        item["actions"] = check_actions(bucket.get("actions"), f"{where}.actions", nested=True)
        checked.append(item)
    result["buckets"] = checked
    return result


def check_meter(meter: dict) -> dict:
    """A meterentry body with meter_id, flags and bands checked."""
    result = dict(meter)
    if "meter_id" in meter:
        result["meter_id"] = to_reserved(meter["meter_id"], "meter_id", "OFPM_")
    flags = meter.get("flags", [])
    flags = [flags] if isinstance(flags, str) else flags
    if not isinstance(flags, list):
        raise BadRequest(f"flags: expected a list of {', '.join(METER_FLAGS)}, got {_show(flags)}")
    for name in flags:
        if not isinstance(name, str) or name not in METER_FLAGS:
            raise BadRequest(f"flags: unknown meter flag {name!r}")
    result["flags"] = flags
    bands = meter.get("bands", [])
    if not isinstance(bands, list):
        raise BadRequest(f"bands: expected a list of band objects, got {_show(bands)}")
    checked = []
    for index, band in enumerate(bands):
        where = f"bands[{index}]"
        if not isinstance(band, dict):
            raise BadRequest(f"{where}: expected an object, got {_show(band)}")
        if band.get("type") not in METER_BANDS:
            raise BadRequest(f"{where}.type: unknown meter band {band.get('type')!r}")
        item = dict(band)
        item["rate"] = _optional(band, "rate", _uint(UINT32), where, 0)
        item["burst_size"] = _optional(band, "burst_size", _uint(UINT32), where, 0)
        item["prec_level"] = _optional(band, "prec_level", _uint(UINT8), where, 0)
        checked.append(item)
    result["bands"] = checked
    return result
