"""A per-switch table that takes a datapath id in either of the forms Ryu apps use as its key.

Ryu 4.34's ``simple_switch_13`` (the Ryu book's) keys ``mac_to_port`` by the integer
``datapath.id``; Ryu's later ``simple_switch_13`` keys it by the 16-digit decimal string
``format(dpid, "d").zfill(16)``. Subclasses written against either form read and write the base
class's table, so ``DpidTable`` maps both forms onto one entry: ``table[1]``,
``table["0000000000000001"]`` and ``table["1"]`` are the same. Keys that are neither an int nor a
string of decimal digits are kept as given.

Iterating gives each switch's key in the form the app's code last used for it (the int when it
never named it), so ``for dpid in self.mac_to_port`` and ``json.dumps`` show what the app wrote.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_MISSING = object()


def dpid_key(key: Any) -> Any:
    """The canonical key: an int for an int or a decimal-digit string, else the key itself."""
    if isinstance(key, bool):
        return key
    if isinstance(key, int):
        return key
    if isinstance(key, str) and key.isascii() and key.isdigit():
        return int(key, 10)
    return key


def dpid_str(dpid: int) -> str:
    """Ryu's later key form: the dpid in decimal, zero-padded to 16 digits."""
    return format(dpid, "d").zfill(16)


class DpidTable(dict):
    """A dict whose datapath-id keys may be given as ints or as decimal strings (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self._shown: dict[Any, Any] = {}  # canonical key -> the key as the app last wrote it
        self.update(*args, **kwargs)

    def _note(self, key: Any) -> Any:
        canonical = dpid_key(key)
        self._shown[canonical] = key
        return canonical

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._note(key) if dpid_key(key) in self else dpid_key(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(self._note(key), value)

    def __delitem__(self, key: Any) -> None:
        canonical = dpid_key(key)
        super().__delitem__(canonical)
        self._shown.pop(canonical, None)

    def __contains__(self, key: object) -> bool:
        return super().__contains__(dpid_key(key))

    def get(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            return default
        return self[key]

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        if key in self:
            value = self[key]
            del self[key]
            return value
        if default is _MISSING:
            raise KeyError(key)
        return default

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def for_switch(self, dpid: int) -> dict:
        """The switch's entry (made empty if missing) without changing the form the app sees."""
        if not super().__contains__(dpid):
            super().__setitem__(dpid, {})
            self._shown.setdefault(dpid, dpid)
        return super().__getitem__(dpid)

    def __iter__(self) -> Iterator[Any]:
        return (self._shown.get(k, k) for k in dict.__iter__(self))

    def keys(self):
        return list(iter(self))

    def items(self):
        return [(self._shown.get(k, k), v) for k, v in super().items()]

    def copy(self) -> DpidTable:
        return DpidTable(self.items())

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{k!r}: {v!r}" for k, v in self.items()) + "}"
