"""Validation of ofctl_rest request input, as pure functions raising ``BadRequest``/``NotFound``.

The REST layer turns ``BadRequest`` into HTTP 400 and ``NotFound`` into 404, both with a JSON
body ``{"error": message}`` whose message names the offending field.
"""

from __future__ import annotations

import json

from sdnlab.controller.errors import ControllerError


class BadRequest(ControllerError):
    """The request body or a path parameter is invalid (HTTP 400)."""


class NotFound(ControllerError):
    """The request names a switch or object that does not exist (HTTP 404)."""


# Match fields ofctl accepts for OpenFlow 1.3 (OXM names and Ryu's OF1.0-style aliases).
MATCH_FIELDS = frozenset("""
in_port in_phy_port metadata dl_dst dl_src eth_dst eth_src dl_type eth_type dl_vlan vlan_vid
vlan_pcp ip_dscp ip_ecn nw_proto ip_proto nw_src nw_dst ipv4_src ipv4_dst tp_src tp_dst tcp_src
tcp_dst udp_src udp_dst sctp_src sctp_dst icmpv4_type icmpv4_code arp_op arp_spa arp_tpa arp_sha
arp_tha ipv6_src ipv6_dst ipv6_flabel icmpv6_type icmpv6_code ipv6_nd_target ipv6_nd_sll
ipv6_nd_tll mpls_label mpls_tc mpls_bos pbb_isid tunnel_id ipv6_exthdr
""".split())

# Action and instruction types ofctl accepts in a flow's "actions" list.
ACTION_TYPES = frozenset("""
OUTPUT COPY_TTL_OUT COPY_TTL_IN SET_MPLS_TTL DEC_MPLS_TTL PUSH_VLAN POP_VLAN PUSH_MPLS POP_MPLS
SET_QUEUE GROUP SET_NW_TTL DEC_NW_TTL SET_FIELD PUSH_PBB POP_PBB COPY_FIELD METER EXPERIMENTER
GOTO_TABLE WRITE_METADATA CLEAR_ACTIONS WRITE_ACTIONS
""".split())

FLOW_COMMANDS = ("add", "modify", "modify_strict", "delete", "delete_strict")
ENTRY_COMMANDS = ("add", "modify", "delete")


def parse_int(text, what: str) -> int:
    """An integer from decimal or ``0x`` hex text (or an int)."""
    if isinstance(text, bool):
        raise BadRequest(f"{what}: expected an integer, got {text!r}")
    if isinstance(text, int):
        return text
    try:
        return int(str(text), 0)
    except ValueError:
        raise BadRequest(f"{what}: expected an integer, got {text!r}") from None


def parse_dpid(text) -> int:
    """A datapath id from the URL or body (decimal or 0x hex, as ofctl_rest accepts)."""
    dpid = parse_int(text, "dpid")
    if not 0 <= dpid < 2**64:
        raise BadRequest(f"dpid: {dpid} is out of range")
    return dpid


def parse_body(body: bytes) -> dict:
    """The JSON object in a request body."""
    if not body or not body.strip():
        raise BadRequest("body: expected a JSON object, got an empty body")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body: malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest(f"body: expected a JSON object, got {type(data).__name__}")
    return data


def check_match(match, where: str = "match") -> dict:
    """Check that a match object names only known fields."""
    if match is None:
        return {}
    if not isinstance(match, dict):
        raise BadRequest(f"{where}: expected an object, got {type(match).__name__}")
    unknown = sorted(set(match) - MATCH_FIELDS)
    if unknown:
        raise BadRequest(f"{where}: unknown match field {unknown[0]!r}")
    return match


def check_actions(actions, where: str = "actions") -> list:
    """Check that every action is an object with a known ``type``."""
    if actions is None:
        return []
    if not isinstance(actions, list):
        raise BadRequest(f"{where}: expected a list, got {type(actions).__name__}")
    for index, action in enumerate(actions):
        if not isinstance(action, dict):
            raise BadRequest(f"{where}[{index}]: expected an object, got {type(action).__name__}")
        kind = action.get("type")
        if kind not in ACTION_TYPES:
            raise BadRequest(f"{where}[{index}].type: unknown action type {kind!r}")
        if kind == "OUTPUT" and "port" not in action:
            raise BadRequest(f"{where}[{index}].port: OUTPUT needs a port")
        if kind == "SET_FIELD":
            if action.get("field") not in MATCH_FIELDS:
                raise BadRequest(f"{where}[{index}].field: unknown field {action.get('field')!r}")
            if "value" not in action:
                raise BadRequest(f"{where}[{index}].value: SET_FIELD needs a value")
        if kind == "WRITE_ACTIONS":
            check_actions(action.get("actions"), f"{where}[{index}].actions")
    return actions


def check_flow_entry(entry: dict) -> dict:
    """Validate a flowentry body: dpid, match, actions and integer fields."""
    if "dpid" not in entry:
        raise BadRequest("dpid: missing")
    check_match(entry.get("match"))
    check_actions(entry.get("actions"))
    for name in ("priority", "idle_timeout", "hard_timeout", "table_id", "cookie", "cookie_mask", "flags"):
        if name in entry and not (name == "table_id" and entry[name] == "ALL"):
            parse_int(entry[name], name)
    return entry


def check_command(command: str, allowed: tuple[str, ...], what: str) -> str:
    """Check a ``{cmd}`` path element."""
    if command not in allowed:
        raise NotFound(f"{what}: unknown command {command!r} (expected one of {', '.join(allowed)})")
    return command
