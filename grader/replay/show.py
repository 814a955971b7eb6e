"""A recorded OpenFlow conversation as a readable sequence: each packet-in with the replies it got.

``decode`` turns one message into a short line with os-ken's parsers (``PACKET_IN in_port=1
00:..:01 -> ff:..:ff ARP``, ``FLOW_MOD add table=0 prio=1 in_port=2,eth_dst=.. -> output:1``);
``exchanges`` groups the controller's messages under the packet-in of the same switch they
followed; ``render`` prints the whole file for ``sdnlab of show``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sdnlab.grader.replay.pcapng import TO_CONTROLLER, OFRecord

# message types that are noise in a conversation view unless asked for
HOUSEKEEPING = {"ECHO_REQUEST", "ECHO_REPLY", "BARRIER_REQUEST", "BARRIER_REPLY"}


def _parsers(version: int) -> tuple[Any, Any]:
    from os_ken.ofproto import ofproto_protocol

    ofproto, parser = ofproto_protocol._versions[version]
    return ofproto, parser


def _type_name(msg: Any) -> str:
    if isinstance(msg, SimpleNamespace):
        return str(msg.kind)
    name = type(msg).__name__
    if name.startswith("OFP"):
        name = name[3:]
    out = ""
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out += "_"
        out += ch.upper()
    return out


def frame_summary(data: bytes) -> str:
    """``src -> dst PROTO ...`` of an Ethernet frame, as short as possible."""
    from os_ken.lib.packet import arp, ethernet, icmp, ipv4, ipv6, packet, tcp, udp

    try:
        pkt = packet.Packet(data)
    except Exception:  # a truncated or odd frame: say so instead of failing the whole view
        return f"{len(data)} bytes (undecodable)"
    eth = pkt.get_protocol(ethernet.ethernet)
    if eth is None:
        return f"{len(data)} bytes"
    text = f"{eth.src} -> {eth.dst}"
    a = pkt.get_protocol(arp.arp)
    if a is not None:
        op = {1: "who-has", 2: "is-at"}.get(a.opcode, f"op {a.opcode}")
        return (
            f"{text} ARP {op} {a.dst_ip} (from {a.src_ip})"
            if a.opcode == 1
            else f"{text} ARP {a.src_ip} is-at"
        )
    ip = pkt.get_protocol(ipv4.ipv4) or pkt.get_protocol(ipv6.ipv6)
    if ip is None:
        return f"{text} ethertype 0x{eth.ethertype:04x}"
    text += f" {ip.src} -> {ip.dst}"
    if pkt.get_protocol(icmp.icmp) is not None:
        return text + f" ICMP type {pkt.get_protocol(icmp.icmp).type}"
    for proto, name in ((tcp.tcp, "TCP"), (udp.udp, "UDP")):
        seg = pkt.get_protocol(proto)
        if seg is not None:
            return text + f" {name} {seg.src_port} -> {seg.dst_port}"
    return text


def _match_text(match: Any) -> str:
    items = list(match.items()) if hasattr(match, "items") else []
    return ",".join(f"{k}={v}" for k, v in items) or "any"


def _action_text(action: Any) -> str:
    name = type(action).__name__.replace("OFPAction", "")
    if name == "Output":
        port = action.port
        special = {0xFFFFFFFB: "FLOOD", 0xFFFFFFFC: "ALL", 0xFFFFFFFD: "CONTROLLER", 0xFFFFFFF8: "IN_PORT"}
        return f"output:{special.get(port, port)}"
    if name == "SetField":
        return f"set_field:{action.key}={action.value}"
    if name == "Group":
        return f"group:{action.group_id}"
    return name.lower()


def _instructions_text(instructions: list[Any]) -> str:
    parts = []
    for inst in instructions:
        kind = type(inst).__name__.replace("OFPInstruction", "")
        if hasattr(inst, "actions"):
            parts += [_action_text(a) for a in inst.actions]
        elif kind == "GotoTable":
            parts.append(f"goto_table:{inst.table_id}")
        else:
            parts.append(kind.lower())
    return ",".join(parts) or "drop"


def _parse_list(parse_one: Any, buf: bytes, offset: int, end: int) -> list[Any]:
    items = []
    while offset < end:
        item = parse_one(buf, offset)
        items.append(item)
        offset += item.len
    return items


def _parse_flow_mod(parser: Any, data: bytes) -> Any:
    """FLOW_MOD of OpenFlow 1.3-1.5 (os-ken parses only what switches send)."""
    (cookie, _mask, table_id, command, idle, hard, priority, buffer_id, out_port, out_group, flags) = (
        struct.unpack_from("!QQBBHHHIIIH", data, 8)
    )
    match = parser.OFPMatch.parser(data, 48)
    offset = 48 + match.length + (-match.length % 8)
    instructions = _parse_list(parser.OFPInstruction.parser, data, offset, len(data))
    return SimpleNamespace(
        kind="FLOW_MOD",
        cookie=cookie,
        table_id=table_id,
        command=command,
        idle_timeout=idle,
        hard_timeout=hard,
        priority=priority,
        buffer_id=buffer_id,
        out_port=out_port,
        out_group=out_group,
        flags=flags,
        match=match,
        instructions=instructions,
    )


def _parse_packet_out(parser: Any, version: int, data: bytes) -> Any:
    """PACKET_OUT of OpenFlow 1.3/1.4 (in_port field) or 1.5 (in_port in a match)."""
    if version >= 6:
        buffer_id, actions_len = struct.unpack_from("!IH", data, 8)
        match = parser.OFPMatch.parser(data, 16)
        offset = 16 + match.length + (-match.length % 8)
        in_port = match.get("in_port")
    else:
        buffer_id, in_port, actions_len = struct.unpack_from("!IIH", data, 8)
        offset = 24
    actions = _parse_list(parser.OFPAction.parser, data, offset, offset + actions_len)
    return SimpleNamespace(
        kind="PACKET_OUT",
        buffer_id=buffer_id,
        in_port=in_port,
        actions=actions,
        data=data[offset + actions_len :],
    )


def parse(record: OFRecord) -> Any:
    """The parsed message (an os-ken object, or a namespace for flow-mods and packet-outs), or None."""
    from os_ken.ofproto import ofproto_parser

    try:
        ofproto, parser = _parsers(record.version)
    except KeyError:
        return None
    try:
        if record.version >= 4 and record.msg_type == 14:
            return _parse_flow_mod(parser, record.data)
        if record.version >= 4 and record.msg_type == 13:
            return _parse_packet_out(parser, record.version, record.data)
        datapath = SimpleNamespace(ofproto=ofproto, ofproto_parser=parser, id=record.dpid)
        header = ofproto_parser.header(record.data)
        msg = ofproto_parser._MSG_PARSERS[record.version](datapath, *header, record.data)
    except Exception:  # an unparsable message is shown by its type name
        msg = None
    if msg is None:
        return SimpleNamespace(kind=_ofpt_name(ofproto, record.msg_type))
    return msg


def _ofpt_name(ofproto: Any, msg_type: int) -> str:
    for name in dir(ofproto):
        if name.startswith("OFPT_") and getattr(ofproto, name) == msg_type:
            return name[5:]
    return f"TYPE_{msg_type}"


def decode(record: OFRecord) -> str:
    """One line describing the message."""
    msg = parse(record)
    if msg is None:
        return f"type {record.msg_type} ({len(record.data)} bytes, not parsed)"
    name = _type_name(msg)
    if name == "PACKET_IN":
        reason = {0: "no_match", 1: "action", 2: "invalid_ttl"}.get(msg.reason, msg.reason)
        in_port = msg.match.get("in_port") if hasattr(msg.match, "get") else None
        table = getattr(msg, "table_id", 0)
        return f"PACKET_IN in_port={in_port} reason={reason} table={table}: {frame_summary(msg.data)}"
    if name == "PACKET_OUT":
        in_port = getattr(msg, "in_port", None)
        if in_port is None and getattr(msg, "match", None) is not None:
            in_port = msg.match.get("in_port")
        actions = ",".join(_action_text(a) for a in msg.actions) or "drop"
        what = frame_summary(msg.data) if msg.data else f"buffer {msg.buffer_id}"
        return f"PACKET_OUT in_port={in_port} actions={actions}: {what}"
    if name == "FLOW_MOD":
        command = {0: "add", 1: "modify", 2: "modify_strict", 3: "delete", 4: "delete_strict"}.get(
            msg.command
        )
        return (
            f"FLOW_MOD {command} table={msg.table_id} priority={msg.priority} match={_match_text(msg.match)} "
            f"actions={_instructions_text(msg.instructions)}"
            + (f" idle={msg.idle_timeout}" if msg.idle_timeout else "")
            + (f" hard={msg.hard_timeout}" if msg.hard_timeout else "")
        )
    if name == "PORT_STATUS":
        reason = {0: "add", 1: "delete", 2: "modify"}.get(msg.reason, msg.reason)
        return f"PORT_STATUS {reason} port={msg.desc.port_no} state=0x{msg.desc.state:x}"
    if name == "ERROR_MSG":
        return f"ERROR type={msg.type} code={msg.code}"
    return name


@dataclass
class Exchange:
    """A packet-in and the controller messages that followed it on the same switch."""

    packet_in: OFRecord
    replies: list[OFRecord] = field(default_factory=list)


def exchanges(records: list[OFRecord]) -> list[Exchange]:
    """Group each switch's controller->switch messages under that switch's latest packet-in."""
    result: list[Exchange] = []
    latest: dict[tuple[str, int], Exchange] = {}
    for record in records:
        if record.direction == TO_CONTROLLER and record.msg_type == 10:
            latest[record.switch] = Exchange(record)
            result.append(latest[record.switch])
        elif record.direction != TO_CONTROLLER and record.switch in latest:
            latest[record.switch].replies.append(record)
    return result


def short_site(site: str) -> str:
    """``/long/path/l2_switch.py:57`` -> ``l2_switch.py:57``."""
    return site.rsplit("/", 1)[-1]


def switch_label(record: OFRecord) -> str:
    """``s<dpid>`` when the dpid is known, else the switch's address."""
    if record.dpid is not None:
        return f"dpid {record.dpid:016x}"
    return f"{record.switch[0]}:{record.switch[1]}"


def render(records: list[OFRecord], show_all: bool = False) -> str:
    """The conversation as text: one line per message, replies indented under their packet-in."""
    if not records:
        return "no OpenFlow messages in this file"
    start = records[0].time
    lines = []
    in_exchange: set[tuple[str, int]] = set()
    for record in records:
        text = decode(record)
        if not show_all and text.split(" ", 1)[0] in HOUSEKEEPING:
            continue
        stamp = f"{record.time - start:9.3f}"
        who = switch_label(record)
        if record.direction == TO_CONTROLLER:
            if record.msg_type == 10:
                in_exchange.add(record.switch)
            lines.append(f"{stamp}  {who} -> app   {text}")
        else:
            arrow = "  => " if record.switch in in_exchange else "     "
            site = f"  [{short_site(record.site)}]" if record.site else ""
            lines.append(f"{stamp}  {who} <- app {arrow}{text}{site}")
    packet_ins = sum(1 for r in records if r.direction == TO_CONTROLLER and r.msg_type == 10)
    switches = len({r.switch for r in records})
    lines.append(f"{len(records)} messages, {packet_ins} packet-ins, {switches} switch connection(s)")
    return "\n".join(lines)
