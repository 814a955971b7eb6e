"""The built-in app's configuration: a YAML or JSON file named by ``SDNLAB_CONTROLLER_CONFIG``.

Validated once at the edge into a frozen ``ControllerConfig``; every mistake is collected and
reported together as ``ControllerConfigError`` naming the file, line (when known) and field.
See docs/controller.md for the format.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass

from sdnlab import textfile
from sdnlab.controller.errors import ControllerConfigError
from sdnlab.problems import Problems
from sdnlab.yamlsrc import line_of, load_yaml

ENV_CONFIG = "SDNLAB_CONTROLLER_CONFIG"
MODES = ("routing", "l2")
WEIGHTS = ("hops", "latency", "capacity")
IP_PROTOS = {"tcp": 6, "udp": 17, "icmp": 1}
CHAIN_MATCH_KEYS = ("src", "dst", "ip_proto", "src_port", "dst_port")


@dataclass(frozen=True)
class ChainMatch:
    """Which flows a chain steers; ``src``/``dst`` are host names, ``role:NAME``, IPs or CIDRs."""

    src: str | None = None
    dst: str | None = None
    ip_proto: int | None = None
    src_port: int | None = None
    dst_port: int | None = None


@dataclass(frozen=True)
class Chain:
    """An ordered list of VNF hosts that matching flows traverse (and return through if symmetric)."""

    name: str
    match: ChainMatch
    vnfs: tuple[str, ...]
    symmetric: bool = True


@dataclass(frozen=True)
class ControllerConfig:
    """Settings of the built-in app."""

    mode: str = "routing"
    weight: str = "hops"
    protection: bool = False
    idle_timeout: int = 60
    quarantine: tuple[str, ...] = ()
    chains: tuple[Chain, ...] = ()
    source: str = ""
    vips: tuple[tuple[str, str], ...] = ()  # (virtual IP, host name/IP/MAC that owns it)

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "weight": self.weight,
            "protection": self.protection,
            "idle_timeout": self.idle_timeout,
            "quarantine": list(self.quarantine),
            "chains": [chain_to_dict(chain) for chain in self.chains],
            "vips": dict(self.vips),
        }

    def vip_owner(self, ip: str | None) -> str | None:
        """The host (name, IP or MAC) that answers for virtual IP ``ip``, if it is one."""
        return dict(self.vips).get(ip) if ip else None


def chain_to_dict(chain: Chain) -> dict:
    match = {k: getattr(chain.match, k) for k in CHAIN_MATCH_KEYS if getattr(chain.match, k) is not None}
    return {"name": chain.name, "match": match, "vnfs": list(chain.vnfs), "symmetric": chain.symmetric}


class _Errors(Problems):
    """Controller config problems, each at the line of the key it is about."""

    def __init__(self, source: str) -> None:
        super().__init__(source, ControllerConfigError)

    def add(self, path: str, message: str, container=None, key=None) -> None:  # type: ignore[override]  # (field, message, where) reads best at the many call sites here
        super().add(line_of(container, key) if container is not None else None, path, message)


def _port(value, path, errors, container, key):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        errors.add(path, f"expected a port number 0-65535, got {value!r}", container, key)
        return None
    return value


def _endpoint(value, path, errors, container, key):
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        errors.add(path, f"expected a host name, role:NAME, IP or CIDR, got {value!r}", container, key)
        return None
    if value[0].isdigit():
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            errors.add(path, f"invalid IP or CIDR {value!r}", container, key)
            return None
    return value


def _parse_chain(index: int, raw, errors: _Errors, parent, host_names) -> Chain | None:
    path = f"chains[{index}]"
    if not isinstance(raw, dict):
        errors.add(path, "expected a mapping", parent, index)
        return None
    for key in raw:
        if key not in ("name", "match", "vnfs", "symmetric"):
            errors.add(f"{path}.{key}", "unknown key (expected name, match, vnfs, symmetric)", raw, key)
    name = raw.get("name", f"chain{index}")
    raw_match = raw.get("match", {}) or {}
    if not isinstance(raw_match, dict):
        errors.add(f"{path}.match", "expected a mapping", raw, "match")
        raw_match = {}
    for key in raw_match:
        if key not in CHAIN_MATCH_KEYS:
            errors.add(
                f"{path}.match.{key}", f"unknown key (expected {', '.join(CHAIN_MATCH_KEYS)})", raw_match, key
            )
    proto = raw_match.get("ip_proto")
    if isinstance(proto, str):
        if proto.lower() not in IP_PROTOS:
            errors.add(
                f"{path}.match.ip_proto",
                f"expected tcp, udp, icmp or a number, got {proto!r}",
                raw_match,
                "ip_proto",
            )
            proto = None
        else:
            proto = IP_PROTOS[proto.lower()]
    elif proto is not None and (isinstance(proto, bool) or not isinstance(proto, int)):
        errors.add(
            f"{path}.match.ip_proto",
            f"expected tcp, udp, icmp or a number, got {proto!r}",
            raw_match,
            "ip_proto",
        )
        proto = None
    match = ChainMatch(
        src=_endpoint(raw_match.get("src"), f"{path}.match.src", errors, raw_match, "src"),
        dst=_endpoint(raw_match.get("dst"), f"{path}.match.dst", errors, raw_match, "dst"),
        ip_proto=proto,
        src_port=_port(raw_match.get("src_port"), f"{path}.match.src_port", errors, raw_match, "src_port"),
        dst_port=_port(raw_match.get("dst_port"), f"{path}.match.dst_port", errors, raw_match, "dst_port"),
    )
    if (match.src_port is not None or match.dst_port is not None) and match.ip_proto not in (6, 17):
        errors.add(f"{path}.match.ip_proto", "src_port/dst_port need ip_proto tcp or udp", raw, "match")
    vnfs = raw.get("vnfs")
    if not isinstance(vnfs, list) or not vnfs or not all(isinstance(v, str) for v in vnfs):
        errors.add(f"{path}.vnfs", f"expected a non-empty list of VNF host names, got {vnfs!r}", raw, "vnfs")
        vnfs = []
    elif host_names is not None:
        for position, vnf in enumerate(vnfs):
            if vnf not in host_names:
                errors.add(f"{path}.vnfs[{position}]", f"unknown host {vnf!r}", vnfs, position)
    symmetric = raw.get("symmetric", True)
    if not isinstance(symmetric, bool):
        errors.add(f"{path}.symmetric", f"expected true or false, got {symmetric!r}", raw, "symmetric")
        symmetric = True
    return Chain(str(name), match, tuple(vnfs), symmetric)


def parse_config(data, source: str = "<config>", host_names=None) -> ControllerConfig:
    """Validate parsed YAML/JSON data; ``host_names`` (if known) checks VNF names."""
    errors = _Errors(source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ControllerConfigError(
            f"{source}:{line_of(data) or 1}: expected a mapping at the top level, got {_kind_of(data)}"
        )
    known = ("mode", "weight", "protection", "idle_timeout", "quarantine", "chains", "vips")
    for key in data:
        if key not in known:
            errors.add(str(key), f"unknown key (expected {', '.join(known)})", data, key)
    mode = data.get("mode", "routing")
    if mode not in MODES:
        errors.add("mode", f"expected one of {', '.join(MODES)}, got {mode!r}", data, "mode")
    weight = data.get("weight", "hops")
    if weight not in WEIGHTS:
        errors.add("weight", f"expected one of {', '.join(WEIGHTS)}, got {weight!r}", data, "weight")
    protection = data.get("protection", False)
    if not isinstance(protection, bool):
        errors.add("protection", f"expected true or false, got {protection!r}", data, "protection")
    idle_timeout = data.get("idle_timeout", 60)
    if isinstance(idle_timeout, bool) or not isinstance(idle_timeout, int) or not 0 <= idle_timeout <= 65535:
        errors.add("idle_timeout", f"expected seconds 0-65535, got {idle_timeout!r}", data, "idle_timeout")
    quarantine = data.get("quarantine", []) or []
    if not isinstance(quarantine, list) or not all(isinstance(q, str) for q in quarantine):
        errors.add(
            "quarantine",
            f"expected a list of host names, IPs or MACs, got {quarantine!r}",
            data,
            "quarantine",
        )
        quarantine = []
    chains_raw = data.get("chains", []) or []
    chains = []
    if not isinstance(chains_raw, list):
        errors.add("chains", "expected a list", data, "chains")
    else:
        for index, raw in enumerate(chains_raw):
            chain = _parse_chain(index, raw, errors, chains_raw, host_names)
            if chain is not None:
                chains.append(chain)
    vips = _parse_vips(data.get("vips", {}) or {}, errors, data, host_names)
    errors.check()
    return ControllerConfig(
        mode, weight, protection, idle_timeout, tuple(quarantine), tuple(chains), source, vips
    )


def _parse_vips(raw, errors: _Errors, parent, host_names) -> tuple[tuple[str, str], ...]:
    """``vips: {virtual IP: host}``: the controller answers ARP for the IP with the host's MAC."""
    if not isinstance(raw, dict):
        errors.add("vips", f"expected a mapping of virtual IP to host, got {raw!r}", parent, "vips")
        return ()
    vips = []
    for ip, owner in raw.items():
        path = f"vips.{ip}"
        try:
            address = str(ipaddress.ip_address(str(ip)))
        except ValueError:
            errors.add(path, f"expected an IP address as the key, got {ip!r}", raw, ip)
            continue
        if not isinstance(owner, str) or not owner:
            errors.add(path, f"expected a host name, IP or MAC, got {owner!r}", raw, ip)
            continue
        if host_names is not None and owner not in host_names and not owner[0].isdigit() and ":" not in owner:
            errors.add(path, f"unknown host {owner!r}", raw, ip)
            continue
        vips.append((address, owner))
    return tuple(vips)


def load_config(path: str | None, host_names=None) -> ControllerConfig:
    """Read and validate the config file at ``path`` (defaults when ``path`` is empty)."""
    if not path:
        return ControllerConfig()
    text = textfile.read_text(path, ControllerConfigError)
    return parse_config(parse_text(text, path), path, host_names)


def parse_text(text: str | bytes, path: str):
    """The YAML (or, for ``.json`` files, JSON) data in ``text``; one-line errors naming file:line."""
    if isinstance(text, bytes):
        text = textfile.decode_text(text, path, ControllerConfigError)
    if path.endswith(".json"):
        try:
            return json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise ControllerConfigError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        except _RepeatedKey as exc:
            raise ControllerConfigError(f"{path}: key {exc.args[0]!r} given twice") from None
        except RecursionError:
            raise ControllerConfigError(f"{path}: invalid JSON: nesting too deep") from None
    return load_yaml(text, path, ControllerConfigError)


def _kind_of(value) -> str:
    """How a message names the type of a parsed YAML/JSON value."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} {value!r}"


class _RepeatedKey(Exception):
    """A JSON object names one key twice (json.loads would keep the last silently)."""


def _unique_keys(pairs: list) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise _RepeatedKey(key)
        result[key] = value
    return result


def config_from_env(host_names=None) -> ControllerConfig:
    """The config named by ``SDNLAB_CONTROLLER_CONFIG`` (defaults when unset)."""
    return load_config(os.environ.get(ENV_CONFIG), host_names)
