"""OVSDB's JSON values (RFC 7047 section 5.1) as plain Python, standard library only.

Used for what ``ovs-vsctl --format=json`` prints (``sdnlab.runtime.ovsdb``) and for the rows of
a JSON-RPC ``monitor`` (``sdnlab.runtime.queue_classifier``, run by the small lab watcher):

* an atom is itself, or ``["uuid", "<uuid>"]`` for a reference;
* a set is ``["set", [atom, ...]]``, or its single atom;
* a map is ``["map", [[key, value], ...]]``.
"""

from __future__ import annotations

import json
from typing import Any


def vsctl_rows(text: str) -> list[dict[str, Any]]:
    """``ovs-vsctl --format=json`` output -> one dict per row (none when it is not that JSON)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    if not isinstance(doc, dict):
        return []
    return [dict(zip(doc.get("headings", []), row, strict=False)) for row in doc.get("data", [])]


def ovs_map(value: Any) -> dict[Any, Any]:
    """An OVSDB map as a dict (an empty one for anything else)."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "map":
        return dict(value[1])
    return {}


def uuids(value: Any) -> list[str]:
    """The references in a value: a uuid, a set of them, or the values of a map of them."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "uuid":
        return [value[1]]
    if isinstance(value, list) and len(value) == 2 and value[0] in ("set", "map"):
        return [u for item in value[1] for u in uuids(item[1] if value[0] == "map" else item)]
    return []


def one_uuid(value: Any) -> str | None:
    """The reference of an optional reference column (a uuid, or a set of none or one), or None."""
    found = uuids(value)
    return found[0] if found else None
