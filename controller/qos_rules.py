"""rest_qos's rules and meters: REST bodies -> typed objects -> OpenFlow 1.3 messages and replies.

Vocabulary is the Ryu book's QoS chapter: a *rule* (``qos_id``) matches packets by ``in_port``,
``dl_src``/``dl_dst``, ``dl_type`` (``ARP``, ``IPv4``, ``IPv6``), ``nw_src``/``nw_dst``,
``ipv6_src``/``ipv6_dst``, ``nw_proto`` (``TCP``, ``UDP``, ``ICMP``, ``ICMPv6``), ``tp_src``/``tp_dst``
and ``ip_dscp``, optionally within a VLAN, and acts with ``mark`` (set the DSCP), ``meter`` and
``queue`` (``set_queue``). Rules live in ``QOS_TABLE`` (0) and continue to ``FORWARD_TABLE`` (1),
where a forwarding app (``ryu.app.qos_simple_switch_13``) switches; the flow's cookie is the
rule's ``qos_id``. A *meter* is an OpenFlow 1.3 meter (``DROP``/``DSCP_REMARK`` bands).

Nothing here does I/O: ``parse_*`` check a body and raise ``BadRequest`` naming the field,
``SwitchQos`` keeps one switch's rules and says which messages to send, ``*_reply`` shape JSON.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Any

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from sdnlab.controller import ofmsg
from sdnlab.controller.ofctl_values import (
    METER_BANDS,
    METER_FLAGS,
    UINT32,
    UINT64,
    BadRequest,
    _show,
    to_int,
    to_mac,
)
from sdnlab.controller.rest_input import hex_dpid

QOS_TABLE = 0  # rest_qos owns table 0: classify, mark, meter, queue
FORWARD_TABLE = 1  # then the forwarding app's table (qos_simple_switch_13)
DEFAULT_PRIORITY = 1
MAX_RULES_PER_SWITCH = 1000  # a lab never needs more; bounds memory and flow-table size

DL_TYPES = {"ARP": 0x0806, "IPv4": 0x0800, "IPv6": 0x86DD}
NW_PROTOS = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPv6": 58}
MATCH_KEYS = (
    "in_port",
    "dl_src",
    "dl_dst",
    "dl_type",
    "nw_src",
    "nw_dst",
    "ipv6_src",
    "ipv6_dst",
    "nw_proto",
    "tp_src",
    "tp_dst",
    "ip_dscp",
)
ACTION_KEYS = ("mark", "meter", "queue")
RULE_KEYS = ("priority", "match", "actions")
OFPQ_MAX = 0xFFFFFFFE  # OFPQ_ALL (0xffffffff) is not a queue
OFPP_MAX = ofp.OFPP_MAX
OFPM_MAX = ofp.OFPM_MAX


# -- path parameters ---------------------------------------------------------------------------
def parse_switch_id(text: str) -> int | None:
    """A switch id from the path: ``all`` (None) or the dpid as 16 hex digits (``0000000000000001``)."""
    if text == "all":
        return None
    dpid = hex_dpid(text)
    if dpid is None:
        raise BadRequest(
            f"switch_id: expected 'all' or 16 hex digits such as 0000000000000001, got {_show(text)}"
        )
    return dpid


def switch_id_text(dpid: int) -> str:
    """The dpid as the 16 hex digits rest_qos replies carry."""
    return f"{dpid:016x}"


def parse_vlan(text: str | None, allow_all: bool) -> int | str | None:
    """The optional ``{vlan}`` path element: None (no VLAN), ``"all"`` (GET/DELETE) or 1..4094."""
    if text is None:
        return None
    if text == "all":
        if not allow_all:
            raise BadRequest("vlan: 'all' applies to GET and DELETE; POST a rule to one VLAN id (1..4094)")
        return "all"
    return to_int(text, "vlan", 4094, 1) if text.isdigit() else _bad_vlan(text)


def _bad_vlan(text: str):
    raise BadRequest(f"vlan: expected a VLAN id (1..4094) or 'all', got {_show(text)}")


# -- rules ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleMatch:
    """What a rule matches, in the REST vocabulary (None: any). ``dl_type`` is implied by L3 fields."""

    in_port: int | None = None
    dl_src: str | None = None
    dl_dst: str | None = None
    dl_type: str | None = None
    nw_src: str | None = None
    nw_dst: str | None = None
    ipv6_src: str | None = None
    ipv6_dst: str | None = None
    nw_proto: str | None = None
    tp_src: int | None = None
    tp_dst: int | None = None
    ip_dscp: int | None = None

    def fields(self) -> dict:
        """The fields that are set, in ``MATCH_KEYS`` order."""
        return {key: getattr(self, key) for key in MATCH_KEYS if getattr(self, key) is not None}


@dataclass(frozen=True)
class QosRule:
    """One rule: ``actions`` is ``((name, value), ...)`` in the order given (mark, meter, queue)."""

    qos_id: int
    priority: int
    match: RuleMatch
    actions: tuple[tuple[str, int], ...]
    vlan_id: int | None = None

    def action(self, name: str) -> int | None:
        return dict(self.actions).get(name)

    def same_place(self, other: QosRule) -> bool:
        """True if both rules would be the same flow entry (same VLAN, match and priority)."""
        return (self.vlan_id, self.match, self.priority) == (other.vlan_id, other.match, other.priority)


def _mapping(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise BadRequest(f"{where}: expected a JSON object, got {_show(value)}")
    return value


def _unknown_keys(body: dict, allowed: tuple[str, ...], where: str) -> None:
    for key in body:
        if key not in allowed:
            raise BadRequest(f"{where}{key}: unknown key (expected {', '.join(allowed)})")


def _name(value, names: dict, where: str) -> str:
    """One of ``names`` (case-insensitive), returned in its canonical spelling."""
    if isinstance(value, str):
        for name in names:
            if value.strip().lower() == name.lower():
                return name
    raise BadRequest(f"{where}: expected {', '.join(names)}, got {_show(value)}")


def _address(value, where: str, version: int) -> str:
    """An address or network (``10.0.0.0/24``); a single host is shown without its prefix."""
    if not isinstance(value, str):
        raise BadRequest(f"{where}: expected an IPv{version} address, got {_show(value)}")
    try:
        network = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise BadRequest(f"{where}: invalid IPv{version} address {_show(value)}") from None
    if network.version != version:
        raise BadRequest(f"{where}: expected an IPv{version} address, got {_show(value)}")
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def parse_match(body) -> RuleMatch:
    """A ``match`` object checked field by field (``BadRequest`` names the field)."""
    body = _mapping(body, "match")
    _unknown_keys(body, MATCH_KEYS, "match.")
    values: dict = {}
    if "in_port" in body:
        values["in_port"] = to_int(body["in_port"], "match.in_port", OFPP_MAX, 1)
    for key in ("dl_src", "dl_dst"):
        if key in body:
            if isinstance(body[key], str) and "/" in body[key]:
                raise BadRequest(
                    f"match.{key}: expected a MAC address without a mask, got {_show(body[key])}"
                )
            values[key] = to_mac(body[key], f"match.{key}").replace("-", ":").lower()
    if "ip_dscp" in body:
        values["ip_dscp"] = to_int(body["ip_dscp"], "match.ip_dscp", 63)
    for key in ("tp_src", "tp_dst"):
        if key in body:
            values[key] = to_int(body[key], f"match.{key}", 65535)
    if "nw_proto" in body:
        values["nw_proto"] = _name(body["nw_proto"], NW_PROTOS, "match.nw_proto")
    for key in ("ipv6_src", "ipv6_dst"):
        if key in body:
            values[key] = _address(body[key], f"match.{key}", 6)
    dl_type = _name(body["dl_type"], DL_TYPES, "match.dl_type") if "dl_type" in body else None
    dl_type = _implied_dl_type(dl_type, body, values)
    if dl_type is not None:
        values["dl_type"] = dl_type
    version = 6 if dl_type == "IPv6" else 4
    for key in ("nw_src", "nw_dst"):
        if key in body:
            if dl_type == "IPv6":
                raise BadRequest(f"match.{key}: IPv4 (or ARP) only; use match.ipv6_{key[3:]} with IPv6")
            values[key] = _address(body[key], f"match.{key}", version)
    return RuleMatch(**values)


def _implied_dl_type(dl_type: str | None, body: dict, values: dict) -> str | None:
    """``dl_type`` as given or implied (IPv6 by IPv6 fields or ICMPv6, else IPv4 by L3/L4 fields)."""
    ipv6_fields = [key for key in ("ipv6_src", "ipv6_dst") if key in body]
    if values.get("nw_proto") == "ICMPv6":
        ipv6_fields.append("nw_proto")
    ip_fields = [key for key in ("nw_proto", "tp_src", "tp_dst", "ip_dscp") if key in body]
    if dl_type is None:
        if ipv6_fields:
            dl_type = "IPv6"
        elif ip_fields or "nw_src" in body or "nw_dst" in body:
            dl_type = "IPv4"
    if dl_type == "ARP" and ip_fields:
        raise BadRequest(f"match.{ip_fields[0]}: not an ARP field (match.dl_type is ARP)")
    if dl_type != "IPv6" and ipv6_fields:
        raise BadRequest(f"match.{ipv6_fields[0]}: needs match.dl_type IPv6, got {dl_type}")
    if dl_type == "IPv6" and values.get("nw_proto") == "ICMP":
        raise BadRequest("match.nw_proto: ICMP is IPv4's; with IPv6 use ICMPv6")
    for key in ("tp_src", "tp_dst"):
        if key in body and values.get("nw_proto") not in ("TCP", "UDP"):
            raise BadRequest(f"match.{key}: needs match.nw_proto TCP or UDP")
    return dl_type


def parse_actions(body) -> tuple[tuple[str, int], ...]:
    """The ``actions`` object: any of ``mark`` (DSCP 0..63), ``meter`` and ``queue``, at least one."""
    body = _mapping(body, "actions")
    _unknown_keys(body, ACTION_KEYS, "actions.")
    if not body:
        raise BadRequest(f"actions: expected at least one of {', '.join(ACTION_KEYS)}")
    limits = {"mark": (0, 63), "meter": (1, OFPM_MAX), "queue": (0, OFPQ_MAX)}
    return tuple(
        (name, to_int(value, f"actions.{name}", limits[name][1], limits[name][0]))
        for name, value in body.items()
    )


def parse_rule(body: dict, vlan_id: int | None = None) -> QosRule:
    """A POSTed rule (its ``qos_id`` is 0 until ``SwitchQos.add`` numbers it)."""
    _unknown_keys(body, RULE_KEYS, "")
    if "actions" not in body:
        raise BadRequest('actions: missing (e.g. {"queue": "1"}, {"mark": "26"} or {"meter": "1"})')
    priority = to_int(body.get("priority", DEFAULT_PRIORITY), "priority", 65535)
    match = parse_match(body.get("match", {}))
    actions = parse_actions(body["actions"])
    if dict(actions).get("mark") is not None and match.dl_type not in ("IPv4", "IPv6"):
        if match.dl_type == "ARP":
            raise BadRequest("actions.mark: sets the IP DSCP, but match.dl_type is ARP")
        match = replace(match, dl_type="IPv4")  # marking needs an IP match, as the book's rules have
    if priority == 0 and not match.fields() and vlan_id is None:
        raise BadRequest("priority: 0 with an empty match is rest_qos's own table-miss flow; use 1 or more")
    return QosRule(0, priority, match, actions, vlan_id)


def parse_qos_id(body: dict) -> int | None:
    """The DELETE body's rule id (``qos_id``, or the book's ``rule_id``): None for ``all``."""
    keys = [key for key in ("qos_id", "rule_id") if key in body]
    if not keys:
        raise BadRequest('qos_id: missing (send {"qos_id": "1"} or {"qos_id": "all"})')
    value = body[keys[0]]
    if value == "all":
        return None
    return to_int(value, keys[0], UINT32, 1)


def rule_oxm(rule: QosRule) -> dict:
    """The rule's match as os-ken ``OFPMatch`` keyword arguments."""
    match = rule.match
    oxm: dict = {}
    if match.in_port is not None:
        oxm["in_port"] = match.in_port
    if match.dl_src:
        oxm["eth_src"] = match.dl_src
    if match.dl_dst:
        oxm["eth_dst"] = match.dl_dst
    if rule.vlan_id is not None:
        oxm["vlan_vid"] = ofp.OFPVID_PRESENT | rule.vlan_id
    if match.dl_type:
        oxm["eth_type"] = DL_TYPES[match.dl_type]
    if match.ip_dscp is not None:
        oxm["ip_dscp"] = match.ip_dscp
    if match.nw_proto:
        oxm["ip_proto"] = NW_PROTOS[match.nw_proto]
    arp = match.dl_type == "ARP"
    for key, ipv4_name, arp_name in (("nw_src", "ipv4_src", "arp_spa"), ("nw_dst", "ipv4_dst", "arp_tpa")):
        if getattr(match, key):
            oxm[arp_name if arp else ipv4_name] = _masked(getattr(match, key))
    for key in ("ipv6_src", "ipv6_dst"):
        if getattr(match, key):
            oxm[key] = _masked(getattr(match, key))
    if match.nw_proto in ("TCP", "UDP"):
        prefix = match.nw_proto.lower()
        if match.tp_src is not None:
            oxm[f"{prefix}_src"] = match.tp_src
        if match.tp_dst is not None:
            oxm[f"{prefix}_dst"] = match.tp_dst
    return oxm


def _masked(text: str):
    """``10.0.0.1`` stays as is; ``10.0.0.0/24`` becomes os-ken's ``(address, netmask)``."""
    if "/" not in text:
        return text
    network = ipaddress.ip_network(text)
    return (str(network.network_address), str(network.netmask))


def rule_flow(rule: QosRule) -> parser.OFPFlowMod:
    """The table-0 flow of a rule: meter, then mark and/or set_queue, then on to the forwarding table."""
    instructions: list = []
    meter = rule.action("meter")
    if meter is not None:
        instructions.append(parser.OFPInstructionMeter(meter, ofp.OFPIT_METER))
    actions = []
    for name, value in rule.actions:
        if name == "mark":
            actions.append(ofmsg.set_field(ip_dscp=value))
        elif name == "queue":
            actions.append(parser.OFPActionSetQueue(value))
    if actions:
        instructions.append(ofmsg.apply_actions(actions))
    instructions.append(ofmsg.goto(FORWARD_TABLE))
    return ofmsg.flow_add(
        QOS_TABLE, rule.priority, ofmsg.match(**rule_oxm(rule)), instructions, cookie=rule.qos_id
    )


def rule_flow_delete(rule: QosRule) -> parser.OFPFlowMod:
    """Remove exactly this rule's flow (its cookie is the qos_id)."""
    return ofmsg.flow_delete(QOS_TABLE, cookie=rule.qos_id, cookie_mask=UINT64)


def table_miss() -> parser.OFPFlowMod:
    """Table 0's lowest flow: what no rule matches goes on to the forwarding table unchanged."""
    return ofmsg.flow_add(QOS_TABLE, 0, ofmsg.match(), [ofmsg.goto(FORWARD_TABLE)])


def clear_qos_table() -> parser.OFPFlowMod:
    """Remove every flow of table 0 (a switch joining gets a clean table)."""
    return ofmsg.flow_delete(QOS_TABLE)


def rule_reply(rule: QosRule) -> dict:
    """A rule as GET /qos/rules shows it (numbers as numbers, action values as text)."""
    shown: dict = {"priority": rule.priority}
    shown.update(rule.match.fields())
    shown["actions"] = [{name: str(value)} for name, value in rule.actions]
    shown["qos_id"] = rule.qos_id
    return shown


# -- one switch's rules and meters -------------------------------------------------------------
@dataclass
class SwitchQos:
    """One switch's rules (numbered from 1) and meters; ``waiting`` holds rules whose meter is missing."""

    rules: dict[int, QosRule] = field(default_factory=dict)
    meters: dict[int, Meter] = field(default_factory=dict)
    next_id: int = 1
    waiting: set[int] = field(default_factory=set)

    def add(self, spec: QosRule) -> QosRule:
        """Number a parsed rule and keep it (``BadRequest`` if it repeats a rule or there are too many)."""
        for rule in self.rules.values():
            if rule.same_place(spec):
                raise BadRequest(
                    f"match: rule qos_id={rule.qos_id} already has this match and priority "
                    "(delete it first, or give another priority)"
                )
        if len(self.rules) >= MAX_RULES_PER_SWITCH:
            raise BadRequest(f"rules: this switch already has {MAX_RULES_PER_SWITCH} rules")
        rule = replace(spec, qos_id=self.next_id)
        self.rules[rule.qos_id] = rule
        self.next_id += 1
        return rule

    def remove(self, qos_id: int | None, vlan: int | str | None) -> list[QosRule]:
        """Forget the rules a DELETE names (every one for None) among ``select(vlan)``; returns them."""
        chosen = [rule for rule in self.select(vlan) if qos_id is None or rule.qos_id == qos_id]
        for rule in chosen:
            del self.rules[rule.qos_id]
            self.waiting.discard(rule.qos_id)
        return chosen

    def select(self, vlan: int | str | None) -> list[QosRule]:
        """Every rule (None), the VLAN rules (``"all"``) or one VLAN's rules, by qos_id."""
        rules = sorted(self.rules.values(), key=lambda rule: rule.qos_id)
        if vlan is None:
            return rules
        if vlan == "all":
            return [rule for rule in rules if rule.vlan_id is not None]
        return [rule for rule in rules if rule.vlan_id == vlan]

    def using_meter(self, meter_id: int) -> list[QosRule]:
        """Rules whose actions name ``meter_id``, by qos_id."""
        return [rule for rule in self.select(None) if rule.action("meter") == meter_id]

    def meter_removed(self, meter_id: int) -> None:
        """The switch dropped the meter and, with it, the flows of the rules using it: they wait."""
        self.meters.pop(meter_id, None)
        self.waiting.update(rule.qos_id for rule in self.using_meter(meter_id))

    def rejoin_messages(self) -> list[tuple[int, Any]]:
        """What a (re)joining switch needs, as ``(qos_id or 0, message)``: a clean table 0, the known
        meters afresh, the table-miss flow, then every rule (a rule whose meter the switch refuses
        to know waits: the caller marks it from the error)."""
        messages: list[tuple[int, Any]] = [(0, clear_qos_table())]
        for meter in self.meters.values():
            messages += [(0, meter_delete(meter.meter_id)), (0, meter_mod(meter))]
        messages.append((0, table_miss()))
        messages += [(rule.qos_id, rule_flow(rule)) for rule in self.select(None)]
        self.waiting.clear()
        return messages


def rules_reply(rules: list[QosRule], vlan: int | str | None) -> list[dict]:
    """GET /qos/rules' ``command_result``: ``{"qos": [...]}`` for rules without VLAN (always, when no
    VLAN was asked for), then ``{"vlan_id": N, "qos": [...]}`` per VLAN."""
    groups: dict[int, list[dict]] = {}
    plain: list[dict] = []
    for rule in rules:
        if rule.vlan_id is None:
            plain.append(rule_reply(rule))
        else:
            groups.setdefault(rule.vlan_id, []).append(rule_reply(rule))
    if isinstance(vlan, int):
        groups.setdefault(vlan, [])
    shown: list[dict] = [{"qos": plain}] if vlan is None else []
    return shown + [{"vlan_id": vlan_id, "qos": entries} for vlan_id, entries in sorted(groups.items())]


def result(details, vlan: int | str | None = None, ok: bool = True) -> dict:
    """One entry of a ``command_result`` list."""
    entry: dict = {"result": "success" if ok else "failure", "details": details}
    if isinstance(vlan, int):
        entry = {"vlan_id": vlan, **entry}
    return entry


# -- meters --------------------------------------------------------------------------------------
MAX_BANDS = 8


@dataclass(frozen=True)
class MeterBand:
    type: str
    rate: int
    burst_size: int = 0
    prec_level: int = 0


@dataclass(frozen=True)
class Meter:
    meter_id: int
    flags: tuple[str, ...]
    bands: tuple[MeterBand, ...]


def parse_meter(body: dict) -> Meter:
    """POST /qos/meter's body: ``meter_id``, ``flags`` (text or list, default KBPS) and ``bands``."""
    _unknown_keys(body, ("meter_id", "flags", "bands"), "")
    if "meter_id" not in body:
        raise BadRequest('meter_id: missing (e.g. {"meter_id": "1", "flags": "KBPS", "bands": [...]})')
    meter_id = to_int(body["meter_id"], "meter_id", OFPM_MAX, 1)
    flags = parse_meter_flags(body.get("flags", "KBPS"), "flags")
    bands_in = body.get("bands")
    if not isinstance(bands_in, list) or not bands_in:
        raise BadRequest(f"bands: expected a list of at least one band object, got {_show(bands_in)}")
    if len(bands_in) > MAX_BANDS:
        raise BadRequest(f"bands: at most {MAX_BANDS} bands, got {len(bands_in)}")
    bands = tuple(parse_band(band, f"bands[{index}]") for index, band in enumerate(bands_in))
    return Meter(meter_id, flags, bands)


def parse_meter_flags(value, where: str) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list):
        raise BadRequest(
            f"{where}: expected a flag or a list of flags ({', '.join(METER_FLAGS)}), got {_show(value)}"
        )
    flags = tuple(_name(name, dict.fromkeys(METER_FLAGS), where) for name in names)
    if "KBPS" in flags and "PKTPS" in flags:
        raise BadRequest(f"{where}: KBPS and PKTPS exclude each other")
    return flags


def parse_band(band, where: str) -> MeterBand:
    band = _mapping(band, where)
    if "flags" in band:
        raise BadRequest(f"{where}.flags: flags belong to the meter, next to meter_id, not to a band")
    _unknown_keys(band, ("type", "action", "rate", "burst_size", "prec_level"), where + ".")
    kind = band.get("type", band.get("action"))
    if kind is None:
        raise BadRequest(f"{where}.type: missing (DROP or DSCP_REMARK)")
    kind = _name(kind, dict.fromkeys(METER_BANDS), f"{where}.type")
    if "rate" not in band:
        raise BadRequest(f"{where}.rate: missing")
    rate = to_int(band["rate"], f"{where}.rate", UINT32, 1)
    burst = to_int(band.get("burst_size", 0), f"{where}.burst_size", UINT32)
    if "prec_level" in band and kind != "DSCP_REMARK":
        raise BadRequest(f"{where}.prec_level: only DSCP_REMARK bands have one")
    prec_level = to_int(band.get("prec_level", 0), f"{where}.prec_level", 63)
    return MeterBand(kind, rate, burst, prec_level)


def meter_mod(meter: Meter, command: int = ofp.OFPMC_ADD) -> parser.OFPMeterMod:
    """The meter-mod adding (or modifying) ``meter``."""
    flags = 0
    for name in meter.flags:
        flags |= METER_FLAGS[name]
    bands = [
        parser.OFPMeterBandDrop(band.rate, band.burst_size)
        if band.type == "DROP"
        else parser.OFPMeterBandDscpRemark(band.rate, band.burst_size, band.prec_level)
        for band in meter.bands
    ]
    return parser.OFPMeterMod(None, command, flags, meter.meter_id, bands)


def meter_delete(meter_id: int) -> parser.OFPMeterMod:
    """The meter-mod removing meter ``meter_id`` (the switch removes the flows using it too)."""
    return parser.OFPMeterMod(None, ofp.OFPMC_DELETE, 0, meter_id, [])


def parse_meter_id(body: dict) -> int:
    """DELETE /qos/meter's body: ``{"meter_id": "1"}``."""
    _unknown_keys(body, ("meter_id",), "")
    if "meter_id" not in body:
        raise BadRequest('meter_id: missing (send {"meter_id": "1"})')
    return to_int(body["meter_id"], "meter_id", OFPM_MAX, 1)


def meter_stats_reply(stats: list) -> list[dict]:
    """OFPMeterStats bodies as GET /qos/meter shows them."""
    return [
        {
            "meter_id": stat.meter_id,
            "flow_count": stat.flow_count,
            "packet_in_count": stat.packet_in_count,
            "byte_in_count": stat.byte_in_count,
            "duration_sec": stat.duration_sec,
            "duration_nsec": stat.duration_nsec,
            "band_stats": [
                {"packet_band_count": band.packet_band_count, "byte_band_count": band.byte_band_count}
                for band in stat.band_stats
            ],
        }
        for stat in sorted(stats, key=lambda stat: stat.meter_id)
    ]


def queue_stats_reply(stats: list, port_names: dict[int, str]) -> list[dict]:
    """OFPQueueStats bodies as GET /qos/queue/status shows them (with the port's name)."""
    return [
        {
            "port_no": stat.port_no,
            "port_name": port_names.get(stat.port_no, ""),
            "queue_id": stat.queue_id,
            "tx_bytes": stat.tx_bytes,
            "tx_packets": stat.tx_packets,
            "tx_errors": stat.tx_errors,
            "duration_sec": stat.duration_sec,
        }
        for stat in sorted(stats, key=lambda stat: (stat.port_no, stat.queue_id))
    ]
