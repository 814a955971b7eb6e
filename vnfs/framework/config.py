"""VNF configuration read once at the edge, with every problem reported as file:line: field.

``load_yaml`` reads the file with sdnlab's one YAML reader (``sdnlab.yamlsrc``: lines of every
key and item, repeated keys refused), and ``Fields`` is a small
reader over one mapping that converts and checks values while collecting all errors, so a
user sees every mistake at once (``fw.yaml:12: rules[2].dport: expected a port or range``).
VNFs turn the result into frozen dataclasses; code past the loader sees only typed objects.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdnlab import textfile, yamlsrc
from sdnlab.problems import Problems
from sdnlab.vnfs.errors import VnfConfigError
from sdnlab.yamlsrc import YMap, YSeq

# The VNF names for the reader's line-keeping containers (see ``sdnlab.yamlsrc``).
YamlMap = YMap
YamlList = YSeq


def load_yaml_text(text: str, source: str = "<config>") -> YMap:
    """Parse YAML text whose top level must be a mapping (an empty text gives an empty one)."""
    data = yamlsrc.load_yaml(text, source, VnfConfigError)
    if data is None:
        data = YMap(line=1)
    if not isinstance(data, YMap):
        raise VnfConfigError(
            f"{source}:{yamlsrc.line_of(data) or 1}: the top level must be a mapping of settings"
        )
    return data


def load_yaml(path: str | Path) -> YMap:
    """Read and parse a YAML config file."""
    return load_yaml_text(textfile.read_text(path, VnfConfigError, "config"), str(path))


class Errors(Problems):
    """Collects problems; ``raise_if_any`` raises one VnfConfigError listing them all."""

    def __init__(self, source: str):
        super().__init__(source, VnfConfigError)

    def raise_if_any(self) -> None:
        """Raise VnfConfigError with every recorded problem, if there is one."""
        self.check()


_MISSING = object()


class Fields:
    """Typed reads from one YAML mapping, recording errors instead of raising at once."""

    def __init__(self, data: Any, path: str, errors: Errors, line: int = 0):
        self.errors = errors
        self.path = path
        self.broken = not isinstance(data, dict)  # already reported: no "is required" follow-ups
        if isinstance(data, dict):
            self.data = data
            self.line = getattr(data, "line", line)
        else:
            errors.add(getattr(data, "line", line), path or "config", "expected a mapping")
            self.data = {}
            self.line = line
        self._used: set = set()

    def name(self, key: str) -> str:
        """The dotted path of ``key`` under this mapping."""
        return f"{self.path}.{key}" if self.path else key

    def line_of(self, key: str) -> int:
        """The line of ``key`` (or of the mapping when the key is absent)."""
        return getattr(self.data, "key_lines", {}).get(key, self.line)

    def error(self, key: str, problem: str) -> None:
        """Record a problem about ``key``."""
        self.errors.add(self.line_of(key), self.name(key), problem)

    def get(self, key: str, convert: Callable[[Any], Any], default: Any = _MISSING, what: str = "") -> Any:
        """The converted value of ``key``; a missing required key or a failed conversion is an error."""
        self._used.add(key)
        if key not in self.data:
            if default is _MISSING:
                if not self.broken:
                    self.errors.add(self.line, self.name(key), "is required")
                return None
            return default
        value = self.data[key]
        try:
            return convert(value)
        except (ValueError, TypeError) as exc:
            detail = what or str(exc) or "invalid value"
            self.error(key, f"{detail} (got {value!r})")
            return default if default is not _MISSING else None

    def get_list(self, key: str, convert: Callable[[Any], Any], default: tuple = ()) -> tuple:
        """A list (or one value) under ``key``, each item converted; a bad item is reported at its
        own line as ``key[i]`` quoting that item, not the whole list."""
        self._used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        items = value if isinstance(value, list) else [value]
        out = []
        for index, item in enumerate(items):
            try:
                out.append(convert(item))
            except (ValueError, TypeError) as exc:
                if isinstance(value, list):
                    line, name = (
                        yamlsrc.line_of(value, index) or self.line_of(key),
                        f"{self.name(key)}[{index}]",
                    )
                else:
                    line, name = self.line_of(key), self.name(key)
                self.errors.add(line, name, f"{exc or 'invalid value'} (got {item!r})")
        return tuple(out) if len(out) == len(items) else default

    def sub(self, key: str) -> Fields:
        """A reader for the nested mapping under ``key`` (empty when absent)."""
        self._used.add(key)
        value = self.data.get(key)
        if value is None:
            value = YMap(line=self.line_of(key))
        return Fields(value, self.name(key), self.errors, self.line_of(key))

    def items(self, key: str) -> list[tuple[str, int, Any]]:
        """(path, line, item) for each element of the list under ``key`` (empty when absent)."""
        self._used.add(key)
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(key, "expected a list")
            return []
        lines = getattr(value, "item_lines", [self.line_of(key)] * len(value))
        return [(f"{self.name(key)}[{i}]", lines[i], item) for i, item in enumerate(value)]

    def reject_unknown(self, allowed: set[str] | None = None) -> None:
        """Report keys that no reader asked for (typos such as ``dprot``)."""
        known = self._used if allowed is None else allowed | self._used
        for key in self.data:
            if key not in known:
                self.error(
                    str(key), f"unknown setting (expected one of: {', '.join(sorted(map(str, known)))})"
                )


# Converters: each raises ValueError/TypeError with a short reason.


def to_int(low: int | None = None, high: int | None = None) -> Callable[[Any], int]:
    """Converter to an int within [low, high]."""

    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected an integer")
        if (low is not None and value < low) or (high is not None and value > high):
            if high is None:
                raise ValueError(f"expected an integer >= {low}")
            if low is None:
                raise ValueError(f"expected an integer <= {high}")
            raise ValueError(f"expected an integer in {low}..{high}")
        return value

    return convert


def to_float(low: float = 0.0) -> Callable[[Any], float]:
    """Converter to a float >= low."""

    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("expected a number")
        if value < low:
            raise ValueError(f"expected a number >= {low}")
        return float(value)

    return convert


def to_str(value: Any) -> str:
    """Converter to a non-empty string."""
    if not isinstance(value, str) or not value:
        raise ValueError("expected a non-empty string")
    return value


def to_bool(value: Any) -> bool:
    """Converter to a bool (YAML true/false)."""
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def to_choice(*choices: str) -> Callable[[Any], str]:
    """Converter accepting one of ``choices``."""

    def convert(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return convert


def to_ipv4(value: Any) -> str:
    """Converter to a dotted IPv4 address string."""
    try:
        return str(ipaddress.IPv4Address(str(value)))
    except ipaddress.AddressValueError:
        raise ValueError("expected an IPv4 address") from None


def to_network(value: Any) -> ipaddress.IPv4Network:
    """Converter to an IPv4 network ('10.0.0.0/8', or one address as a /32)."""
    try:
        return ipaddress.IPv4Network(str(value), strict=False)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError):
        raise ValueError("expected an IPv4 address or CIDR such as 10.0.0.0/8") from None


def to_mac(value: Any) -> bytes:
    """Converter from 'aa:bb:cc:dd:ee:ff' to 6 bytes."""
    parts = str(value).split(":")
    if len(parts) != 6:
        raise ValueError("expected a MAC address such as 00:00:00:00:00:01")
    try:
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise ValueError("expected a MAC address such as 00:00:00:00:00:01") from None


def to_port_range(value: Any) -> tuple[int, int]:
    """Converter from 80, '1000-2000' or [1000, 2000] to an inclusive (low, high) port range."""
    if isinstance(value, bool):
        raise ValueError("expected a port or range")
    if isinstance(value, int):
        low = high = value
    elif isinstance(value, str) and value.strip().isdigit():
        low = high = int(value)
    elif isinstance(value, str) and "-" in value:
        a, _, b = value.partition("-")
        if not (a.strip().isdigit() and b.strip().isdigit()):
            raise ValueError("expected a port or range such as 1000-2000")
        low, high = int(a), int(b)
    elif isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        low, high = value
    else:
        raise ValueError("expected a port or range such as 1000-2000")
    if not (0 <= low <= high <= 65535):
        raise ValueError("expected ports in 0..65535 with low <= high")
    return (low, high)


def mac_text(mac: bytes) -> str:
    """6 bytes as aa:bb:cc:dd:ee:ff."""
    return ":".join(f"{b:02x}" for b in mac)
