"""Parse ofctl_rest JSON (``GET /stats/flow/<dpid>``, ``/stats/groupdesc/<dpid>``) into flow state.

Each REST entry is rewritten into the ovs-ofctl syntax and goes through the same parser, so
both sources give identical ``Flow`` objects. Errors name the entry (``flows.json:[3]``).
"""

from __future__ import annotations

import json
from typing import Any

from sdnlab.grader.errors import FlowParseError
from sdnlab.grader.model import Flow, Group
from sdnlab.grader.ofctl_text import parse_flow_line, parse_group_line

_ACTION_NAMES = {
    "OUTPUT": "output",
    "GROUP": "group",
    "SET_QUEUE": "set_queue",
    "PUSH_VLAN": "push_vlan",
    "PUSH_MPLS": "push_mpls",
    "POP_MPLS": "pop_mpls",
    "METER": "meter",
    "GOTO_TABLE": "goto_table",
    "WRITE_METADATA": "write_metadata",
}
_PLAIN = {
    "POP_VLAN": "pop_vlan",
    "DEC_NW_TTL": "dec_ttl",
    "CLEAR_ACTIONS": "clear_actions",
    "COPY_TTL_OUT": "copy_ttl_out",
    "COPY_TTL_IN": "copy_ttl_in",
    "DEC_MPLS_TTL": "dec_mpls_ttl",
}


def _action_text(action: Any, where: str) -> str:
    if isinstance(action, dict):
        if "WRITE_ACTIONS" in action:
            return "write_actions(" + ",".join(_action_text(a, where) for a in action["WRITE_ACTIONS"]) + ")"
        if "type" in action:  # a structured action, as POSTed to stats/flowentry
            kind = action["type"].upper()
            if kind == "SET_FIELD":
                return f"set_field:{action['value']}->{action['field']}"
            if kind in _PLAIN:
                return _PLAIN[kind]
            value = action.get(
                "port",
                action.get(
                    "group_id",
                    action.get(
                        "ethertype", action.get("table_id", action.get("queue_id", action.get("meter_id")))
                    ),
                ),
            )
            return f"{_ACTION_NAMES.get(kind, kind.lower())}:{value}"
        raise FlowParseError(where, 0, f"unknown action object {action!r}")
    text = str(action).strip()
    if text in _PLAIN:
        return _PLAIN[text]
    name, _, arg = text.partition(":")
    arg = arg.strip()
    if name == "SET_FIELD":
        body = arg.strip("{} ")
        field, _, value = body.partition(":")
        return f"set_field:{value.strip()}->{field.strip()}"
    if name in _ACTION_NAMES:
        return f"{_ACTION_NAMES[name]}:{arg}"
    raise FlowParseError(where, 0, f"unsupported action {text!r}")


def _match_tokens(match: dict[str, Any]) -> list[str]:
    tokens = []
    for key, value in match.items():
        text = str(value)
        if key == "dl_vlan" and ("/" in text or text.startswith("0x")):
            key = "vlan_vid"  # os-ken prints raw OXM vlan_vid values (with OFPVID_PRESENT) this way
        if key == "dl_type" and isinstance(value, int):
            text = hex(value)
        tokens.append(f"{key}={text}")
    return tokens


def flow_entry_text(entry: dict[str, Any], where: str) -> str:
    """One ofctl_rest flow stats entry as an ovs-ofctl flow line."""
    head = [
        f"table={entry.get('table_id', 0)}",
        f"priority={entry.get('priority', 32768)}",
        f"cookie={entry.get('cookie', 0)}",
    ]
    head += _match_tokens(entry.get("match") or {})
    actions = [_action_text(a, where) for a in entry.get("actions") or entry.get("instructions") or []]
    return ",".join(head) + " actions=" + (",".join(actions) or "drop")


def parse_rest_flows(data: Any, source: str = "<rest>", dpid: int | None = None) -> tuple[Flow, ...]:
    """Flows from ofctl_rest flow stats JSON: ``{"<dpid>": [entries]}`` or a bare list of entries."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise FlowParseError(source, exc.lineno, f"invalid JSON: {exc.msg}") from None
    if isinstance(data, dict):
        if dpid is not None and str(dpid) in data:
            entries = data[str(dpid)]
        elif len(data) == 1:
            entries = next(iter(data.values()))
        else:
            raise FlowParseError(source, 0, f"expected one datapath in the reply, got {sorted(data)[:5]}")
    else:
        entries = data
    if not isinstance(entries, list):
        raise FlowParseError(source, 0, "expected a list of flow entries")
    flows = []
    for index, entry in enumerate(entries):
        where = f"{source}:[{index}]"
        if not isinstance(entry, dict):
            raise FlowParseError(where, 0, "flow entry is not an object")
        flows.append(parse_flow_line(flow_entry_text(entry, where), source, index + 1))
    return tuple(flows)


def parse_rest_groups(data: Any, source: str = "<rest>") -> dict[int, Group]:
    """Groups from ofctl_rest group_desc JSON."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise FlowParseError(source, exc.lineno, f"invalid JSON: {exc.msg}") from None
    entries = next(iter(data.values()), None) if isinstance(data, dict) else data
    if entries is not None and not isinstance(entries, list):
        raise FlowParseError(source, 0, "expected a list of group entries")
    groups = {}
    for index, entry in enumerate(entries or []):
        where = f"{source}:[{index}]"
        if not isinstance(entry, dict):
            raise FlowParseError(where, 0, "group entry is not an object")
        kind = {"ALL": "all", "SELECT": "select", "INDIRECT": "indirect", "FF": "ff"}.get(
            str(entry.get("type", "")).upper(), str(entry.get("type", "")).lower()
        )
        buckets = []
        for bucket in entry.get("buckets", []):
            parts = []
            if bucket.get("weight") is not None:
                parts.append(f"weight:{bucket['weight']}")
            if bucket.get("watch_port") not in (None, 0xFFFFFFFF, "ANY"):
                parts.append(f"watch_port:{bucket['watch_port']}")
            parts.append(
                "actions=" + (",".join(_action_text(a, where) for a in bucket.get("actions", [])) or "drop")
            )
            buckets.append("bucket=" + ",".join(parts))
        line = f"group_id={entry.get('group_id')},type={kind}" + ("," + ",".join(buckets) if buckets else "")
        group = parse_group_line(line, source, index + 1)
        groups[group.group_id] = group
    return groups
