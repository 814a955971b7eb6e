"""Behaviour specs: the YAML format of docs/grader.md validated into frozen ``Behaviour`` objects.

Every problem is reported with file:line and the field (``spec.yaml:7: reach.src: ...``); all
problems of a file are collected and raised together as one ``SpecError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from sdnlab.grader.errors import FlowParseError, SpecError
from sdnlab.grader.files import read_text
from sdnlab.grader.ofctl_text import parse_match_tokens, split_top

KINDS = ("reach", "isolate", "waypoint", "path", "no_loop", "no_blackhole", "load_split", "failover")
COMMON_KEYS = ("id", "description", "weight", "hidden")
_KIND_KEYS = {
    "reach": {"src", "dst", "traffic"},
    "isolate": {"src", "dst", "traffic"},
    "waypoint": {"src", "dst", "traffic", "via"},
    "path": {"src", "dst", "traffic", "max_hops", "avoid", "prefer"},
    "no_loop": {"src", "traffic"},
    "no_blackhole": {"src", "dst", "traffic"},
    "load_split": {"src", "dst", "traffic", "over"},
    "failover": {"down", "behaviour"},
}
_REQUIRED = {
    "reach": {"src", "dst"},
    "isolate": {"src", "dst"},
    "waypoint": {"src", "dst", "via"},
    "path": {"src", "dst"},
    "load_split": {"src", "dst", "over"},
    "failover": {"down", "behaviour"},
}
_PHRASE = re.compile(r"^(any|ip|icmp|arp|tcp|udp)(?:\s+(src|dst)\s+([\d,]+))?(?:\s+(src|dst)\s+([\d,]+))?$")


@dataclass(frozen=True)
class TrafficClass:
    """A class of packets: protocol phrase plus extra ovs-ofctl match triples."""

    text: str
    protocols: tuple[str, ...]  # among ip, icmp, arp, tcp, udp
    ports: tuple = ()  # ((which, (ports...)), ...) with which in {"src", "dst"}
    extra: tuple = ()  # (field, value, mask) triples from an ovs match

    def variants(self):
        """(protocol, {"src": port|None, "dst": port|None}) for each concrete sub-class."""
        srcs = dict(self.ports).get("src", (None,))
        dsts = dict(self.ports).get("dst", (None,))
        for proto in self.protocols:
            for s in srcs:
                for d in dsts:
                    yield proto, {"src": s, "dst": d}


@dataclass(frozen=True)
class Behaviour:
    """One expected behaviour of the network."""

    id: str
    kind: str
    description: str = ""
    weight: float = 1.0
    hidden: bool = False
    src: tuple[str, ...] = ("all",)
    dst: tuple[str, ...] = ()
    traffic: TrafficClass | None = None
    via: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    max_hops: int | None = None
    prefer: str | None = None
    over: tuple[str, ...] = ()
    down: tuple = ()  # ((a, b), ...)
    nested: Behaviour | None = None
    line: int = 0
    source: str = ""

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


class _LineLoader(yaml.SafeLoader):
    """Safe YAML loader that records each mapping's line as key ``__line__``."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_traffic(text, where: str = "<spec>") -> TrafficClass:
    """A traffic phrase (``tcp dst 80``) or an ovs-ofctl match (``tcp,tp_dst=80``)."""
    if text is None:
        text = "any"
    if not isinstance(text, str):
        raise SpecError(f"{where}: traffic: expected a string like 'tcp dst 80', got {text!r}")
    phrase = " ".join(text.strip().lower().split())
    if "=" in phrase:
        tokens = split_top(phrase)
        try:
            match = parse_match_tokens(tokens, where=(where, 0))
        except FlowParseError as exc:
            raise SpecError(f"{where}: traffic: {exc.problem}") from None
        eth = match.get("eth_type")
        proto = match.get("ip_proto")
        protocol = "ip"
        if eth is not None and eth.value == 0x0806:
            protocol = "arp"
        elif proto is not None:
            protocol = {1: "icmp", 6: "tcp", 17: "udp"}.get(proto.value, "ip")
        extra = tuple((fm.field, fm.value, fm.mask) for fm in match.fields if fm.field not in ("eth_type",))
        return TrafficClass(text, (protocol,), (), extra)
    m = _PHRASE.match(phrase)
    if not m:
        raise SpecError(
            f"{where}: traffic: cannot read {text!r} (expected any, ip, icmp, arp, tcp, udp, 'tcp dst 80', or an ovs match)"
        )
    proto = m.group(1)
    ports = []
    for which, values in ((m.group(2), m.group(3)), (m.group(4), m.group(5))):
        if which:
            if proto not in ("tcp", "udp"):
                raise SpecError(f"{where}: traffic: ports only apply to tcp or udp, not {proto!r}")
            numbers = tuple(int(v) for v in values.split(",") if v)
            if any(not 0 <= n <= 65535 for n in numbers):
                raise SpecError(f"{where}: traffic: port out of range in {text!r}")
            ports.append((which, numbers))
    protocols = ("ip", "arp") if proto == "any" else (proto,)
    return TrafficClass(text, protocols, tuple(ports))


def _selectors(value, where: str, key: str, errors: list) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if not isinstance(item, (str, int)) or isinstance(item, bool):
            errors.append(f"{where}: {key}: expected a node name, role:NAME or a list, got {item!r}")
            continue
        out.append(str(item))
    return tuple(out)


def _behaviour(raw, index: int, source: str, errors: list, nested: bool = False):
    line = raw.get("__line__", 0) if isinstance(raw, dict) else 0
    where = f"{source}:{line}"
    if not isinstance(raw, dict):
        errors.append(f"{source}: behaviours[{index}]: expected a mapping, got {raw!r}")
        return None
    kinds = [k for k in raw if k in KINDS]
    unknown = [k for k in raw if k not in KINDS and k not in COMMON_KEYS and k != "__line__"]
    if unknown:
        errors.append(f"{where}: unknown key {unknown[0]!r} (behaviour kinds: {', '.join(KINDS)})")
    if len(kinds) != 1:
        errors.append(
            f"{where}: a behaviour needs exactly one of {', '.join(KINDS)} (found {kinds or 'none'})"
        )
        return None
    kind = kinds[0]
    body = raw[kind] if raw[kind] is not None else {}
    if not isinstance(body, dict):
        errors.append(f"{where}: {kind}: expected a mapping")
        return None
    line = body.get("__line__", line)
    where = f"{source}:{line}"
    keys = set(body) - {"__line__"}
    for key in sorted(keys - _KIND_KEYS[kind]):
        errors.append(
            f"{where}: {kind}.{key}: unknown field (allowed: {', '.join(sorted(_KIND_KEYS[kind]))})"
        )
    for key in sorted(_REQUIRED.get(kind, set()) - keys):
        errors.append(f"{where}: {kind}.{key}: required")
    weight = raw.get("weight", 1)
    if not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0:
        errors.append(f"{where}: weight: expected a non-negative number, got {weight!r}")
        weight = 1
    hidden = raw.get("hidden", False)
    if not isinstance(hidden, bool):
        errors.append(f"{where}: hidden: expected true or false")
        hidden = False
    try:
        traffic = parse_traffic(
            body.get("traffic", "ip" if kind in ("no_loop", "no_blackhole") else "any"), f"{where}: {kind}"
        )
    except SpecError as exc:
        errors.append(str(exc))
        traffic = None
    max_hops = body.get("max_hops")
    if max_hops is not None and (not isinstance(max_hops, int) or max_hops < 1):
        errors.append(f"{where}: {kind}.max_hops: expected a positive integer")
        max_hops = None
    prefer = body.get("prefer")
    if prefer is not None and prefer != "lowest_latency":
        errors.append(f"{where}: {kind}.prefer: only 'lowest_latency' is supported")
    down = []
    for item in body.get("down") or []:
        pair = item.split("-") if isinstance(item, str) else item
        if not isinstance(pair, list) or len(pair) != 2:
            errors.append(f"{where}: failover.down: expected [a, b] or 'a-b' per link, got {item!r}")
            continue
        down.append((str(pair[0]), str(pair[1])))
    nested_behaviour = None
    if kind == "failover" and isinstance(body.get("behaviour"), dict):
        nested_behaviour = _behaviour(body["behaviour"], index, source, errors, nested=True)
        if nested_behaviour is not None and nested_behaviour.kind == "failover":
            errors.append(f"{where}: failover.behaviour: cannot nest failover")
    default_src = ("all",) if kind in ("no_loop", "no_blackhole") else ()
    behaviour_id = raw.get("id") or f"{kind}-{index + 1}"
    return Behaviour(
        id=str(behaviour_id),
        kind=kind,
        description=str(raw.get("description") or ""),
        weight=float(weight),
        hidden=hidden,
        src=_selectors(body.get("src"), where, f"{kind}.src", errors) or default_src,
        dst=_selectors(body.get("dst"), where, f"{kind}.dst", errors)
        or (("all",) if kind == "no_blackhole" else ()),
        traffic=traffic,
        via=_selectors(body.get("via"), where, f"{kind}.via", errors),
        avoid=_selectors(body.get("avoid"), where, f"{kind}.avoid", errors),
        max_hops=max_hops,
        prefer=prefer,
        over=_selectors(body.get("over"), where, f"{kind}.over", errors),
        down=tuple(down),
        nested=nested_behaviour,
        line=line,
        source=source,
    )


def load_yaml_with_lines(text: str, source: str = "<spec>"):
    """YAML text as plain data where every mapping also carries ``__line__`` (its 1-based line)."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise SpecError(f"{source}{line}: invalid YAML: {getattr(exc, 'problem', exc)}") from None


_LOCATED = re.compile(r"^.*?:(\d+):")
MAX_ERRORS_SHOWN = 25


def raise_spec_errors(errors: list[str]) -> None:
    """Raise every problem at once as one ``SpecError`` (one per line, in file order); no-op if none."""
    if not errors:
        return
    unique = list(dict.fromkeys(errors))
    ordered = sorted(unique, key=lambda e: int(m.group(1)) if (m := _LOCATED.match(e)) else 0)
    shown = ordered[:MAX_ERRORS_SHOWN]
    more = len(ordered) - len(shown)
    raise SpecError("\n".join(shown) + (f"\n... and {more} more errors" if more > 0 else ""))


def parse_spec(text: str, source: str = "<spec>", topology=None) -> tuple[Behaviour, ...]:
    """Behaviours from spec YAML text (a list, or a mapping with ``behaviours:``)."""
    return parse_behaviours(load_yaml_with_lines(text, source), source, topology)


def parse_behaviours(data, source: str = "<spec>", topology=None) -> tuple[Behaviour, ...]:
    """Behaviours from already-loaded YAML data (a list, or a mapping with ``behaviours:``).

    Lab files loaded elsewhere can pass their ``behaviours:`` list here; mappings that carry a
    ``__line__`` key (see ``load_yaml_with_lines``) get line numbers in error messages. With a
    ``topology``, node selectors and failover links are checked against it too, and every problem
    (field syntax and unknown nodes alike) is reported in the same ``SpecError``.
    """
    if isinstance(data, dict):
        data = data.get("behaviours")
    if not isinstance(data, list):
        raise SpecError(f"{source}: expected a list of behaviours (or a 'behaviours:' list)")
    errors: list[str] = []
    behaviours = [_behaviour(raw, i, source, errors) for i, raw in enumerate(data)]
    ids = [b.id for b in behaviours if b is not None]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        errors.append(f"{source}: duplicate behaviour id {dup!r}")
    behaviours = [b for b in behaviours if b is not None]
    if topology is not None:
        from sdnlab.grader.grading import Grader, spec_errors
        from sdnlab.grader.model import NetworkState

        errors.extend(spec_errors(Grader(topology, NetworkState({})), behaviours))
    raise_spec_errors(errors)
    return tuple(behaviours)


def load_spec(path, topology=None) -> tuple[Behaviour, ...]:
    """Behaviours from a spec file (checked against ``topology`` when given, see ``parse_behaviours``)."""
    path = Path(path)
    text = read_text(path, "spec", SpecError)
    return parse_spec(text, str(path), topology)
