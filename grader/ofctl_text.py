"""Parse the text ``ovs-ofctl -O OpenFlow13`` prints (dump-flows, dump-groups, dump-ports-desc).

Also accepts the add-flows / add-groups input syntax (``table=0,priority=5,ip,actions=...``),
so saved rule files and live dumps go through one parser. Anything not understood raises a
``FlowParseError`` naming the source and line.
"""

from __future__ import annotations

import re

from sdnlab.grader.errors import FlowParseError
from sdnlab.grader.fields import (
    ALIASES,
    FIELDS,
    OFPP_CONTROLLER,
    SHORTHANDS,
    ValueError_,
    parse_port,
    parse_value,
)
from sdnlab.grader.model import (
    Bucket,
    DecTtl,
    Flow,
    Group,
    GroupAction,
    Match,
    Meter,
    ModVlanVid,
    Noop,
    Output,
    PopMpls,
    PopVlan,
    Port,
    PushMpls,
    PushVlan,
    Resubmit,
    SetField,
    SetQueue,
)

# Flow attributes that are not match fields (statistics, timeouts, flags).
_FLOW_ATTRIBUTES = {
    "duration",
    "n_packets",
    "n_bytes",
    "idle_age",
    "hard_age",
    "idle_timeout",
    "hard_timeout",
    "importance",
    "out_port",
    "out_group",
}
_FLOW_FLAGS = {
    "send_flow_rem",
    "check_overlap",
    "reset_counts",
    "no_packet_counts",
    "no_byte_counts",
    "no_readonly_table",
}
_HEADER = re.compile(r"^\s*(OFPST_|NXST_|OFPT_|OFP\w+ reply|NXT_)")
_ACTIONS_KEY = re.compile(r"(?:^|[\s,])(?:actions|instructions)=")

# NXM/OXM names OVS prints in load:/move: actions -> stored field names.
_NXM_FIELDS = {
    "NXM_OF_ETH_SRC": "eth_src",
    "NXM_OF_ETH_DST": "eth_dst",
    "NXM_OF_IP_SRC": "ipv4_src",
    "NXM_OF_IP_DST": "ipv4_dst",
    "NXM_OF_IP_TOS": None,
    "NXM_OF_TCP_SRC": "tp_src",
    "NXM_OF_TCP_DST": "tp_dst",
    "NXM_OF_UDP_SRC": "tp_src",
    "NXM_OF_UDP_DST": "tp_dst",
    "NXM_NX_IP_TTL": "ip_ttl",
    "OXM_OF_METADATA": "metadata",
    "NXM_NX_TUN_ID": "tunnel_id",
    "NXM_OF_ARP_SPA": "ipv4_src",
    "NXM_OF_ARP_TPA": "ipv4_dst",
    "NXM_NX_ARP_SHA": "arp_sha",
    "NXM_NX_ARP_THA": "arp_tha",
    "NXM_NX_IPV6_SRC": "ipv6_src",
    "NXM_NX_IPV6_DST": "ipv6_dst",
    **{f"NXM_NX_REG{i}": f"reg{i}" for i in range(8)},
}


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def parse_match_tokens(tokens, *, where=("<match>", 0), allow_table=False) -> Match:
    """Match fields and shorthands (``tcp``, ``nw_src=10.0.0.0/8``) into a ``Match``."""
    source, line = where
    triples = []
    for token in tokens:
        name, eq, value = token.partition("=")
        name = name.strip()
        if not eq:
            if name in SHORTHANDS:
                triples.extend((f, v, FIELDS[f].full) for f, v in SHORTHANDS[name])
                continue
            raise FlowParseError(source, line, f"unknown match keyword {name!r}")
        if name == "packet_type":
            continue
        try:
            triples.extend(parse_value(name, value.strip()))
        except ValueError_ as exc:
            raise FlowParseError(source, line, str(exc)) from None
    return Match.of(triples, ",".join(tokens))


def _int(text: str, source: str, line: int, what: str) -> int:
    try:
        return int(text.strip(), 0)
    except ValueError:
        raise FlowParseError(source, line, f"bad {what} {text!r}") from None


def _nxm_destination(dst: str, source: str, line: int) -> tuple[str, int]:
    """``NXM_OF_IP_DST[]`` or ``NXM_OF_IP_DST[0..7]`` -> (field, mask in field units)."""
    m = re.fullmatch(r"(\w+)\[(?:(\d+)(?:\.\.(\d+))?)?\]", dst.strip())
    if not m:
        raise FlowParseError(source, line, f"bad field reference {dst!r}")
    name = m.group(1)
    field_name = _NXM_FIELDS.get(name) or (ALIASES[name.lower()].field if name.lower() in ALIASES else None)
    if field_name is None:
        raise FlowParseError(source, line, f"unsupported field {name!r} in load action")
    f = FIELDS[field_name]
    if m.group(2) is None:
        return field_name, f.full
    low = int(m.group(2))
    high = int(m.group(3)) if m.group(3) is not None else low
    return field_name, ((1 << (high - low + 1)) - 1) << low


def _set_field(value_text: str, name: str, source: str, line: int) -> SetField:
    try:
        triples = parse_value(name, value_text)
    except ValueError_ as exc:
        raise FlowParseError(source, line, f"set_field: {exc}") from None
    if name in ("dl_vlan", "vlan_vid") and len(triples) == 1:
        stored, value, mask = triples[0]
        # OF1.3 set_field carries OFPVID_PRESENT in the value; the tag itself is not pushed.
        return SetField("vlan_vid", value & 0xFFF, 0xFFF)
    if len(triples) != 1:
        raise FlowParseError(source, line, f"set_field on {name!r} is not supported")
    stored, value, mask = triples[0]
    return SetField(stored, value, mask)


def parse_action(token: str, source: str, line: int):
    """One action (not an instruction) from its ovs-ofctl text."""
    raw = token.strip()
    low = raw.lower()
    name, _colon, arg = raw.partition(":")
    lname = name.lower()
    if low in ("drop",):
        return None
    if re.fullmatch(r"\d+", raw) or low in ("in_port", "flood", "all", "local", "normal", "controller"):
        return Output(parse_port(raw))
    if low.startswith("controller("):
        return Output(OFPP_CONTROLLER)
    if lname == "controller":
        return Output(OFPP_CONTROLLER, _int(arg, source, line, "max_len"))
    if lname == "output":
        if arg.startswith("NXM") or "[" in arg:
            raise FlowParseError(source, line, f"unsupported action {raw!r}")
        try:
            return Output(parse_port(arg))
        except ValueError_ as exc:
            raise FlowParseError(source, line, str(exc)) from None
    if lname == "enqueue":
        return Output(parse_port(arg.split(":")[0]))
    if lname in ("set_field", "load"):
        value_text, arrow, target = arg.partition("->")
        if not arrow:
            raise FlowParseError(source, line, f"{lname}: missing '->' in {raw!r}")
        if lname == "set_field":
            return _set_field(value_text.strip(), target.strip(), source, line)
        field_name, mask = _nxm_destination(target, source, line)
        low_bit = (mask & -mask).bit_length() - 1
        return SetField(field_name, (_int(value_text, source, line, "value") << low_bit) & mask, mask)
    mods = {
        "mod_dl_src": "dl_src",
        "mod_dl_dst": "dl_dst",
        "mod_nw_src": "nw_src",
        "mod_nw_dst": "nw_dst",
        "mod_nw_tos": "nw_tos",
        "mod_nw_ecn": "nw_ecn",
        "mod_nw_ttl": "nw_ttl",
        "mod_tp_src": "tp_src",
        "mod_tp_dst": "tp_dst",
        "mod_vlan_pcp": "vlan_pcp",
        "set_mpls_label": "mpls_label",
        "set_mpls_tc": "mpls_tc",
        "set_tunnel": "tunnel_id",
        "set_tunnel64": "tunnel_id",
    }
    if lname in mods:
        return _set_field(arg.strip(), mods[lname], source, line)
    if lname == "mod_vlan_vid":
        return ModVlanVid(_int(arg, source, line, "vlan id") & 0xFFF)
    if lname in ("strip_vlan", "pop_vlan"):
        return PopVlan()
    if lname == "push_vlan":
        return PushVlan(_int(arg or "0x8100", source, line, "ethertype"))
    if lname == "push_mpls":
        return PushMpls(_int(arg or "0x8847", source, line, "ethertype"))
    if lname == "pop_mpls":
        return PopMpls(_int(arg or "0x0800", source, line, "ethertype"))
    if low == "dec_ttl" or low.startswith("dec_ttl("):
        return DecTtl()
    if lname == "group":
        return GroupAction(_int(arg, source, line, "group id"))
    if lname == "set_queue":
        return SetQueue(_int(arg, source, line, "queue id"))
    if lname == "meter":
        return Meter(_int(arg, source, line, "meter id"))
    if low.startswith("resubmit"):
        inner = raw[len("resubmit") :]
        if inner.startswith(":"):
            return Resubmit(parse_port(inner[1:]), None)
        m = re.fullmatch(r"\(([^,]*),([^,)]*)(?:,ct)?\)", inner)
        if not m:
            raise FlowParseError(source, line, f"bad resubmit {raw!r}")
        port = parse_port(m.group(1)) if m.group(1).strip() else None
        table = _int(m.group(2), source, line, "table") if m.group(2).strip() else None
        return Resubmit(port, table)
    if lname in ("note", "copy_ttl_in", "copy_ttl_out", "dec_mpls_ttl", "set_mpls_ttl"):
        return Noop(raw)
    raise FlowParseError(source, line, f"unsupported action {raw!r}")


def parse_actions(text: str, source: str, line: int) -> tuple:
    """A plain action list (bucket or write_actions contents)."""
    actions = []
    for token in split_top(text):
        action = parse_action(token, source, line)
        if action is not None:
            actions.append(action)
    return tuple(actions)


def parse_instructions(text: str, source: str, line: int) -> dict:
    """The ``actions=`` part of a flow into instruction fields of ``Flow``."""
    result: dict = {
        "apply_actions": [],
        "clear_actions": False,
        "write_actions": (),
        "write_metadata": None,
        "goto_table": None,
        "meter_id": None,
    }
    for token in split_top(text):
        low = token.lower()
        if low.startswith("write_actions(") and token.endswith(")"):
            result["write_actions"] = parse_actions(token[len("write_actions(") : -1], source, line)
        elif low.startswith("apply_actions(") and token.endswith(")"):
            result["apply_actions"].extend(parse_actions(token[len("apply_actions(") : -1], source, line))
        elif low == "clear_actions":
            result["clear_actions"] = True
        elif low.startswith("goto_table:"):
            result["goto_table"] = _int(token.split(":", 1)[1], source, line, "table")
        elif low.startswith("write_metadata:"):
            value, _, mask = token.split(":", 1)[1].partition("/")
            result["write_metadata"] = (
                _int(value, source, line, "metadata"),
                _int(mask, source, line, "mask") if mask else (1 << 64) - 1,
            )
        elif low.startswith("meter:") and not result["apply_actions"]:
            result["meter_id"] = _int(token.split(":", 1)[1], source, line, "meter id")
        else:
            action = parse_action(token, source, line)
            if action is not None:
                result["apply_actions"].append(action)
    result["apply_actions"] = tuple(result["apply_actions"])
    return result


def _is_skippable(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#") or bool(_HEADER.match(line))


def parse_flow_line(text: str, source: str = "<flows>", line: int = 0) -> Flow:
    """One dump-flows (or add-flows) line into a ``Flow``."""
    m = _ACTIONS_KEY.search(text)
    if not m:
        raise FlowParseError(source, line, "no actions= part", text)
    head, actions_text = text[: m.start()], text[m.end() :]
    tokens = [t for t in re.split(r"[\s,]+", head.strip()) if t]
    table_id, priority, cookie = 0, 32768, 0
    match_tokens = []
    for token in tokens:
        key, eq, value = token.partition("=")
        if eq and key in ("table", "table_id"):
            table_id = _int(value, source, line, "table")
        elif eq and key == "priority":
            priority = _int(value, source, line, "priority")
        elif eq and key == "cookie":
            cookie = _int(value.split("/")[0], source, line, "cookie")
        elif (eq and key in _FLOW_ATTRIBUTES) or (not eq and key in _FLOW_FLAGS):
            continue
        else:
            match_tokens.append(token)
    try:
        match = parse_match_tokens(match_tokens, where=(source, line))
        instructions = parse_instructions(actions_text.strip(), source, line)
    except FlowParseError as exc:
        raise FlowParseError(source, line, exc.problem, text) from None
    return Flow(
        table_id=table_id,
        priority=priority,
        match=match,
        cookie=cookie,
        line=line,
        source=source,
        text=text.strip(),
        **instructions,
    )


def parse_flows(text: str, source: str = "<flows>") -> tuple[Flow, ...]:
    """Every flow of a dump-flows (or add-flows) text."""
    flows = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if _is_skippable(raw):
            continue
        flows.append(parse_flow_line(raw, source, number))
    return tuple(flows)


_GROUP_TYPES = {"all": "all", "select": "select", "indirect": "indirect", "ff": "ff", "fast_failover": "ff"}


def parse_group_line(text: str, source: str = "<groups>", line: int = 0) -> Group:
    """One dump-groups line: ``group_id=1,type=select,bucket=weight:5,actions=output:1,...``."""
    body = text.strip()
    first, sep, rest = body.partition(",bucket=")
    buckets_text = rest.split(",bucket=") if sep else []
    group_id, group_type = None, None
    for token in split_top(first):
        key, _, value = token.partition("=")
        if key == "group_id":
            group_id = _int(value, source, line, "group_id")
        elif key == "type":
            if value not in _GROUP_TYPES:
                raise FlowParseError(source, line, f"unknown group type {value!r}", text)
            group_type = _GROUP_TYPES[value]
        elif (
            key
            in (
                "selection_method",
                "selection_method_param",
                "fields",
                "duration",
                "ref_count",
                "packet_count",
                "byte_count",
            )
            or key == "bucket"
            or key == ""
        ):
            continue
        else:
            raise FlowParseError(source, line, f"unknown group attribute {key!r}", text)
    if group_id is None or group_type is None:
        raise FlowParseError(source, line, "group needs group_id= and type=", text)
    buckets = []
    for bucket_text in buckets_text:
        weight, watch_port, watch_group, actions = 1, None, None, ()
        tokens = split_top(bucket_text)
        i = 0
        while i < len(tokens):
            token = tokens[i]
            key, colon, value = token.partition(":")
            if key in ("weight", "watch_port", "watch_group", "bucket_id") and colon:
                if key == "weight":
                    weight = _int(value, source, line, "weight")
                elif key == "watch_port":
                    watch_port = parse_port(value)
                elif key == "watch_group":
                    watch_group = _int(value, source, line, "watch_group")
                i += 1
                continue
            rest_tokens = tokens[i:]
            if rest_tokens and rest_tokens[0].startswith("actions="):
                rest_tokens[0] = rest_tokens[0][len("actions=") :]
            actions = parse_actions(",".join(rest_tokens), source, line)
            break
        buckets.append(Bucket(actions=actions, weight=weight, watch_port=watch_port, watch_group=watch_group))
    return Group(group_id=group_id, type=group_type, buckets=tuple(buckets), line=line, source=source)


def parse_groups(text: str, source: str = "<groups>") -> dict[int, Group]:
    """Every group of a dump-groups (or add-groups) text, by group id."""
    groups = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if _is_skippable(raw):
            continue
        if "group_id=" not in raw:
            continue  # statistics continuation lines
        group = parse_group_line(raw, source, number)
        groups[group.group_id] = group
    return groups


_PORT_HEAD = re.compile(r"^\s*(\w+)\(([^)]*)\):")


def parse_ports(text: str, source: str = "<ports>") -> dict[int, Port]:
    """dump-ports-desc text into ports; a port is live unless its state says LINK_DOWN or config PORT_DOWN."""
    ports: dict[int, Port] = {}
    current = None
    down = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if _is_skippable(raw):
            continue
        m = _PORT_HEAD.match(raw)
        if m:
            if current is not None:
                ports[current[0]] = Port(current[0], current[1], not down)
            try:
                current = (parse_port(m.group(1)), m.group(2))
            except ValueError_:
                raise FlowParseError(source, number, f"bad port number {m.group(1)!r}", raw) from None
            down = False
            continue
        stripped = raw.strip()
        if stripped.startswith(("config:", "state:")) and (
            "PORT_DOWN" in stripped or "LINK_DOWN" in stripped
        ):
            down = True
    if current is not None:
        ports[current[0]] = Port(current[0], current[1], not down)
    return ports
