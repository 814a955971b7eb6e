"""Validation of ofctl_rest request input, as pure functions raising ``BadRequest``/``NotFound``.

The REST layer turns ``BadRequest`` into HTTP 400 and ``NotFound`` into 404, both with a JSON
body ``{"error": message}`` whose message names the offending field.
"""

from __future__ import annotations

import json
import re

from sdnlab.controller.errors import ControllerError
from sdnlab.controller.ofctl_values import (  # noqa: F401 (re-exported for the REST layer)
    ACTION_TYPES,
    MATCH_FIELDS,
    BadRequest,
    check_actions,
    check_flow_numbers,
    check_group,
    check_match,
    check_meter,
)


class NotFound(ControllerError):
    """The request names a switch or object that does not exist (HTTP 404)."""


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


HEX_DPID = re.compile(r"[0-9a-fA-F]{16}")


def hex_dpid(text) -> int | None:
    """A dpid written as the Ryu book's REST paths write it, 16 hex digits (``0000000000000001``);
    None if ``text`` is not exactly that (no sign, ``0x``, ``_`` or white space)."""
    return int(text, 16) if isinstance(text, str) and HEX_DPID.fullmatch(text) else None


MAX_JSON_DEPTH = 32


def json_depth(value) -> int:
    """How deeply arrays/objects nest in a parsed JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item if isinstance(child, (dict, list)))
    return deepest


def parse_body(body: bytes, optional: bool = False) -> dict:
    """The JSON object in a request body (nested at most ``MAX_JSON_DEPTH`` levels).

    ``optional``: an empty (or all white space) body is ``{}`` instead of an error."""
    if not body or not body.strip():
        if optional:
            return {}
        raise BadRequest("body: expected a JSON object, got an empty body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    too_deep = BadRequest(f"body: JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(text)
    except RecursionError:  # the parser's own nesting limit
        raise too_deep from None
    except ValueError as exc:
        raise BadRequest(f"body: malformed JSON: {exc}") from None
    if json_depth(data) > MAX_JSON_DEPTH:
        raise too_deep
    if not isinstance(data, dict):
        raise BadRequest(f"body: expected a JSON object, got {type(data).__name__}")
    return data


def check_flow_entry(entry: dict, allow_all_tables: bool = False) -> dict:
    """A flowentry body with dpid present and match, actions and numbers checked (canonical form)."""
    if "dpid" not in entry:
        raise BadRequest("dpid: missing")
    return check_flow_filter(entry, allow_all_tables)


def check_flow_filter(flow: dict, allow_all_tables: bool = True) -> dict:
    """A flow body (entry or stats filter) with match, actions and numeric fields checked."""
    result = check_flow_numbers(flow, allow_all_tables)
    if "match" in flow:
        result["match"] = check_match(flow["match"])
    if "actions" in flow:
        result["actions"] = check_actions(flow["actions"])
    return result


def check_entry_body(body: dict) -> dict:
    """A group/meter entry body: it must name its switch."""
    if "dpid" not in body:
        raise BadRequest("dpid: missing")
    return body


def check_command(command: str, allowed: tuple[str, ...], what: str) -> str:
    """Check a ``{cmd}`` path element."""
    if command not in allowed:
        raise NotFound(f"{what}: unknown command {command!r} (expected one of {', '.join(allowed)})")
    return command
