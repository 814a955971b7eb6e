"""Behaviour specs: the YAML format of docs/grader.md validated into frozen ``Behaviour`` objects.

Spec files are read with the shared YAML reader (``sdnlab.yamlsrc``: duplicate keys are errors,
every value knows its line). Each behaviour names one kind of the registry
(``sdnlab.grader.behaviours``), which says which keys it takes. Every problem is reported with
file:line and the field (``spec.yaml:7: reach.src: ...``); all problems of a file are collected
and raised together as one ``SpecError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sdnlab.grader.errors import FlowParseError, SpecError
from sdnlab.grader.files import read_text
from sdnlab.grader.ofctl_text import parse_match_tokens, split_top
from sdnlab.yamlsrc import YamlSyntaxError, line_of, load_yaml

if TYPE_CHECKING:
    from sdnlab.grader.behaviours.base import BehaviourKind

COMMON_KEYS = ("id", "description", "weight", "hidden", "requires")
LAB_CHECK_KEYS = ("skills",)  # a lab.yaml check's own keys (the lab loader reads them), ignored here
MAX_DEPTH = 8  # nesting levels a spec may use (a failover's behaviour's traffic is 5)


def kind_names() -> tuple[str, ...]:
    """The behaviour kinds a spec may use (the registry's names)."""
    from sdnlab.grader.behaviours import kinds

    return tuple(kinds())


_PHRASE = re.compile(r"^(any|ip|icmp|arp|tcp|udp)(?:\s+(src|dst)\s+([\d,]+))?(?:\s+(src|dst)\s+([\d,]+))?$")


Ports = tuple[tuple[str, tuple[int, ...]], ...]
Link = tuple[str, str]


@dataclass(frozen=True)
class TrafficClass:
    """A class of packets: protocol phrase plus extra ovs-ofctl match triples."""

    text: str
    protocols: tuple[str, ...]  # among ip, icmp, arp, tcp, udp (and arp_reply, icmp_reply for ping)
    ports: Ports = ()  # ((which, (ports...)), ...) with which in {"src", "dst"}
    extra: tuple[tuple[str, int, int], ...] = ()  # (field, value, mask) triples from an ovs match

    def variants(self) -> Iterator[tuple[str, dict[str, int | None]]]:
        """(protocol, {"src": port|None, "dst": port|None}) for each concrete sub-class."""
        srcs: tuple[int | None, ...] = dict(self.ports).get("src", (None,))
        dsts: tuple[int | None, ...] = dict(self.ports).get("dst", (None,))
        for proto in self.protocols:
            for s in srcs:
                for d in dsts:
                    yield proto, {"src": s, "dst": d}


@dataclass(frozen=True)
class Behaviour:
    """One expected behaviour of the network (``kind`` names its module in the registry)."""

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
    down: tuple[Link, ...] = ()
    nested: Behaviour | None = None
    line: int = 0
    source: str = ""
    requires: tuple[str, ...] = ()  # ids of behaviours this one earns points only together with

    @property
    def where(self) -> str:
        """``file:line`` of the behaviour in its spec."""
        return f"{self.source}:{self.line}"


def parse_traffic(text: object, where: str = "<spec>") -> TrafficClass:
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
        ip_proto = match.get("ip_proto")
        protocol = "ip"
        if eth is not None and eth.value == 0x0806:
            protocol = "arp"
        elif ip_proto is not None:
            protocol = {1: "icmp", 6: "tcp", 17: "udp"}.get(ip_proto.value, "ip")
        extra = tuple((fm.field, fm.value, fm.mask) for fm in match.fields if fm.field not in ("eth_type",))
        return TrafficClass(text, (protocol,), (), extra)
    m = _PHRASE.match(phrase)
    if not m:
        raise SpecError(
            f"{where}: traffic: cannot read {text!r} "
            "(expected any, ip, icmp, arp, tcp, udp, 'tcp dst 80', or an ovs match)"
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


def _line(container: object, key: object, default: int) -> int:
    """The line of ``container[key]`` (of ``container`` for key None) from the YAML reader's line map."""
    return line_of(container, key) or default


def _selectors(value: object, where: str, key: str, errors: list[str]) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if not isinstance(item, (str, int)) or isinstance(item, bool):
            errors.append(f"{where}: {key}: expected a node name, role:NAME or a list, got {item!r}")
            continue
        out.append(str(item))
    return tuple(out)


def _depth(value: object, limit: int) -> bool:
    """Whether ``value`` nests deeper than ``limit`` levels of mappings and lists."""
    if limit < 0:
        return True
    if isinstance(value, Mapping):
        return any(_depth(v, limit - 1) for v in value.values())
    if isinstance(value, list):
        return any(_depth(v, limit - 1) for v in value)
    return False


def _behaviour(
    raw: object, index: int, source: str, errors: list[str], line: int = 0, ignored: tuple[str, ...] = ()
) -> Behaviour | None:
    from sdnlab.grader.behaviours import kinds

    registry = kinds()
    if not isinstance(raw, Mapping):
        errors.append(f"{source}:{line}: behaviours[{index}]: expected a mapping, got {raw!r}")
        return None
    line = _line(raw, None, line)
    where = f"{source}:{line}"
    keys = [k for k in raw if k not in ignored]
    found = [k for k in keys if k in registry]
    for key in keys:
        if key not in registry and key not in COMMON_KEYS:
            errors.append(
                f"{source}:{_line(raw, key, line)}: unknown key {key!r} "
                f"(behaviour kinds: {', '.join(registry)}; other keys: {', '.join(COMMON_KEYS)})"
            )
    for key in keys:
        if raw[key] is None and key in COMMON_KEYS:
            errors.append(f"{source}:{_line(raw, key, line)}: {key}: no value given (null)")
    if len(found) != 1:
        errors.append(
            f"{where}: a behaviour needs exactly one of {', '.join(registry)} "
            f"(found {', '.join(map(str, found)) or 'none'})"
        )
        return None
    name = str(found[0])
    kind = registry[name]
    body = raw[name]
    if body is None:
        errors.append(
            f"{source}:{_line(raw, name, line)}: {name}: no fields given (null; write {name}: {{}})"
        )
        return None
    if not isinstance(body, Mapping):
        errors.append(
            f"{source}:{_line(raw, name, line)}: {name}: expected a mapping of fields, got {body!r}"
        )
        return None
    if _depth(body, MAX_DEPTH):
        errors.append(f"{source}:{_line(raw, name, line)}: {name}: nested too deeply")
        return None
    body_line = _line(raw, name, line)

    def at(key: str) -> str:
        return f"{source}:{_line(body, key, body_line)}"

    return _build(raw, body, kind, index, source, (line, body_line), at, errors)


def _build(
    raw: Mapping[object, object],
    body: Mapping[object, object],
    kind: BehaviourKind,
    index: int,
    source: str,
    lines: tuple[int, int],
    at: Callable[[str], str],
    errors: list[str],
) -> Behaviour:
    """The behaviour of one spec entry (``lines``: of the entry and of its kind's fields)."""
    name = kind.name
    line, kind_line = lines
    fields = set(body)
    for key in sorted(fields - kind.keys, key=str):
        errors.append(
            f"{at(str(key))}: {name}.{key}: unknown field (allowed: {', '.join(sorted(kind.keys))})"
        )
    for key in sorted(kind.required - fields):
        errors.append(f"{at(key)}: {name}.{key}: required")
    for key in sorted(fields & kind.keys, key=str):
        if body[key] is None:
            errors.append(f"{at(str(key))}: {name}.{key}: no value given (null)")

    def common(key: str) -> str:
        return f"{source}:{_line(raw, key, line)}"

    weight = raw.get("weight", 1)
    if weight is not None and (
        not isinstance(weight, (int, float)) or isinstance(weight, bool) or weight < 0
    ):
        errors.append(f"{common('weight')}: weight: expected a non-negative number, got {weight!r}")
    weight = (
        weight if isinstance(weight, (int, float)) and not isinstance(weight, bool) and weight >= 0 else 1
    )
    hidden = raw.get("hidden", False)
    if hidden is not None and not isinstance(hidden, bool):
        errors.append(f"{common('hidden')}: hidden: expected true or false")
    requires_raw = raw.get("requires")
    requires: tuple[str, ...] = ()
    if requires_raw is not None:
        items = requires_raw if isinstance(requires_raw, list) else [requires_raw]
        names = [i for i in items if isinstance(i, str) and i]
        if len(names) != len(items):
            errors.append(f"{common('requires')}: requires: expected a behaviour id or a list of ids")
        else:
            requires = tuple(names)
    behaviour_id = raw.get("id")
    if behaviour_id is not None and not isinstance(behaviour_id, (str, int)):
        errors.append(f"{common('id')}: id: expected a name, got {behaviour_id!r}")
        behaviour_id = None
    traffic = None
    if "traffic" in kind.keys:
        try:
            value = body.get("traffic") if body.get("traffic") is not None else kind.default_traffic
            traffic = parse_traffic(value, f"{at('traffic')}: {name}")
        except SpecError as exc:
            errors.append(str(exc))

    def selectors(key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = body.get(key)
        if value is None:
            return default
        return _selectors(value, at(key), f"{name}.{key}", errors) or default

    def nested(inner: object, where: str) -> Behaviour | None:
        return _behaviour(inner, index, source, errors, int(where.rsplit(":", 1)[1]))

    extra = kind.parse_fields(body, at, errors, nested)
    return Behaviour(
        id=str(behaviour_id or f"{name}-{index + 1}"),
        kind=name,
        description=_description(raw.get("description"), common("description"), errors),
        weight=float(weight),
        hidden=bool(hidden),
        src=selectors("src", kind.default_src),
        dst=selectors("dst", kind.default_dst),
        traffic=traffic,
        via=selectors("via"),
        avoid=selectors("avoid"),
        over=selectors("over"),
        line=kind_line,
        source=source,
        requires=requires,
        **extra,  # type: ignore[arg-type]  # the kind's own fields (max_hops, down, nested, ...), typed by it
    )


_LOCATED = re.compile(r"^.*?:(\d+):")
MAX_ERRORS_SHOWN = 25


def _description(raw: object, where: str, errors: list[str]) -> str:
    """A behaviour's description: a text, or ``{en: ..., ja: ...}`` (the English one is kept here;
    the lab loader keeps both for ``--lang``)."""
    if raw is None or isinstance(raw, str):
        return raw or ""
    texts = raw if isinstance(raw, Mapping) and set(map(str, raw)) <= {"en", "ja"} else {}
    if isinstance(texts.get("en"), str) and all(isinstance(v, str) and v.strip() for v in texts.values()):
        return str(texts["en"])
    errors.append(f"{where}: description: expected a text or {{en: TEXT, ja: TEXT}}")
    return ""


def raise_spec_errors(errors: list[str]) -> None:
    """Raise every problem at once as one ``SpecError`` (one per line, in file order); no-op if none."""
    if not errors:
        return
    unique = list(dict.fromkeys(errors))
    ordered = sorted(unique, key=lambda e: int(m.group(1)) if (m := _LOCATED.match(e)) else 0)
    shown = ordered[:MAX_ERRORS_SHOWN]
    more = len(ordered) - len(shown)
    raise SpecError("\n".join(shown) + (f"\n... and {more} more errors" if more > 0 else ""))


def _read_yaml(text: str, source: str) -> object:
    try:
        return load_yaml(text, source)
    except YamlSyntaxError as exc:
        raise SpecError(str(exc)) from None


def parse_spec(text: str, source: str = "<spec>", topology: object = None) -> tuple[Behaviour, ...]:
    """Behaviours from spec YAML text (a list, or a mapping with ``behaviours:``)."""
    return parse_behaviours(_read_yaml(text, source), source, topology)


def parse_behaviours(
    data: object,
    source: str = "<spec>",
    topology: object = None,
    hidden: tuple[object, str] | None = None,
) -> tuple[Behaviour, ...]:
    """Behaviours from already-loaded YAML data (a list, or a mapping with ``behaviours:``).

    Data from ``sdnlab.yamlsrc.load_yaml`` gets line numbers in error messages. With a
    ``topology``, node selectors and failover links are checked against it too, and every problem
    (field syntax and unknown nodes alike) is reported in the same ``SpecError``. ``hidden``: the
    data and file name of a second list whose behaviours are all hidden (a lab's instructor-only
    ``hidden.yaml``); they may require the first list's behaviours and share its ids.
    """
    errors: list[str] = []
    id_lines: dict[tuple[str, int], int] = {}
    behaviours = _behaviour_list(data, source, errors, id_lines=id_lines)
    if hidden is not None:
        hidden_data, hidden_source = hidden
        for b in _behaviour_list(hidden_data, hidden_source, errors, lab_file=True, id_lines=id_lines):
            if not b.hidden and _declares_public(hidden_data, b):
                errors.append(f"{b.where}: hidden: every behaviour in {Path(hidden_source).name} is hidden")
            behaviours.append(replace(b, hidden=True))
    errors += duplicate_id_errors(behaviours, id_lines)
    errors += requires_errors(behaviours)
    if topology is not None:
        from sdnlab.grader.grading import Grader, spec_errors
        from sdnlab.grader.model import NetworkState

        errors.extend(spec_errors(Grader(topology, NetworkState({})), behaviours))
    raise_spec_errors(errors)
    return tuple(behaviours)


def _declares_public(data: object, behaviour: Behaviour) -> bool:
    """True when the entry of ``behaviour`` in ``data`` says ``hidden: false`` in so many words."""
    entries = data.get("behaviours") if isinstance(data, Mapping) else data
    for raw in entries if isinstance(entries, list) else ():
        if isinstance(raw, Mapping) and str(raw.get("id")) == behaviour.id and raw.get("hidden") is False:
            return True
    return False


def _behaviour_list(
    data: object,
    source: str,
    errors: list[str],
    lab_file: bool = False,
    id_lines: dict[tuple[str, int], int] | None = None,
) -> list[Behaviour]:
    """The behaviours of one file's data (a list, or a mapping with ``behaviours:``); problems go
    to ``errors``, the line of each behaviour's ``id:`` (by its ``(source, line)``) to ``id_lines``."""
    line = getattr(data, "line", 0)
    if isinstance(data, Mapping):
        lab_file = lab_file or "topology" in data or "title" in data  # a lab file: other keys are the lab's
        unknown = [k for k in data if k != "behaviours"] if not lab_file else []
        if unknown:
            where = f"{source}:{_line(data, unknown[0], line)}"
            raise SpecError(f"{where}: unknown key {unknown[0]!r} (a spec holds a 'behaviours:' list)")
        line = _line(data, "behaviours", line)
        data = data.get("behaviours")
        if data is None and lab_file:
            return []
    if not isinstance(data, list):
        raise SpecError(f"{source}:{line}: expected a list of behaviours (or a 'behaviours:' list)")
    ignored = LAB_CHECK_KEYS if lab_file else ()
    parsed = [_behaviour(raw, i, source, errors, _line(data, i, line), ignored) for i, raw in enumerate(data)]
    for raw, b in zip(data, parsed, strict=True):
        if b is not None and id_lines is not None and isinstance(raw, Mapping) and "id" in raw:
            id_lines[(b.source, b.line)] = _line(raw, "id", _line(raw, None, b.line))
    return [b for b in parsed if b is not None]


def duplicate_id_errors(
    behaviours: list[Behaviour], id_lines: Mapping[tuple[str, int], int] | None = None
) -> list[str]:
    """Every behaviour whose id an earlier one already has, at the ``file:line`` of its ``id:``
    (``id_lines``, from ``_behaviour_list``; a behaviour without ``id:`` has the automatic id
    ``<kind>-<n>`` and its own line)."""

    def line(b: Behaviour) -> int:
        return (id_lines or {}).get((b.source, b.line), b.line)

    first: dict[str, Behaviour] = {}
    errors = []
    for b in behaviours:
        earlier = first.setdefault(b.id, b)
        if earlier is not b:
            at = (
                f"line {line(earlier)}" if earlier.source == b.source else f"{earlier.source}:{line(earlier)}"
            )
            what = "" if (b.source, b.line) in (id_lines or {}) else "automatic "  # kind-N: no id given
            errors.append(
                f"{b.source}:{line(b)}: id: duplicate {what}behaviour id {b.id!r} (first used at {at})"
            )
    return errors


def requires_errors(behaviours: list[Behaviour]) -> list[str]:
    """Every ``requires`` that names no behaviour, itself, or a hidden one from a public one."""
    by_id = {b.id: b for b in behaviours}
    errors = []
    for b in behaviours:
        for required in b.requires:
            other = by_id.get(required)
            if other is None:
                errors.append(f"{b.where}: requires: no behaviour with id {required!r}")
            elif other is b:
                errors.append(f"{b.where}: requires: a behaviour cannot require itself")
            elif other.hidden and not b.hidden:
                errors.append(
                    f"{b.where}: requires: {required!r} is hidden; "
                    "a public behaviour can require only public ones"
                )
    return errors


def load_spec(path: str | Path, topology: object = None) -> tuple[Behaviour, ...]:
    """Behaviours from a spec file (checked against ``topology`` when given, see ``parse_behaviours``)."""
    path = Path(path)
    text = read_text(path, "spec", SpecError)
    return parse_spec(text, str(path), topology)
