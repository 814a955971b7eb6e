"""What a behaviour kind is: its spec keys, defaults, judge, description and live probes.

A kind is one subclass of ``BehaviourKind`` registered with ``register``. Spec loading
(``sdnlab.grader.spec``), judging (``sdnlab.grader.grading``), probe selection
(``sdnlab.grader.probes``) and topology checks all ask the registry, so adding a kind is one new
module in this package (plus its tests and a paragraph in docs/grader.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from sdnlab.grader.errors import SpecError
from sdnlab.grader.report import Failure

if TYPE_CHECKING:
    from sdnlab.grader.grading import Down, Grader
    from sdnlab.grader.spec import Behaviour

# A spec field every kind may use, with whether its node names must be hosts (src, dst) or may
# also be switches and VNFs (via, avoid, over).
SELECTOR_KEYS: dict[str, bool] = {"src": True, "dst": True, "via": False, "avoid": False, "over": False}


@dataclass(frozen=True)
class Verdict:
    """What a kind's judge found: ``passed`` of ``cases`` (src, dst) cases held; failures explained."""

    cases: int
    passed: int
    failures: tuple[Failure, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class ProbeCase:
    """One (src, dst) case a live check sends packets for (one per protocol of its traffic class).

    ``class_dst`` is the host the class is addressed to (None: any destination, e.g. loops).
    """

    src: str
    dst: str
    class_dst: str | None
    behaviour: Behaviour


ParseNested = Callable[[object, str], "Behaviour | None"]


class BehaviourKind:
    """Base of every behaviour kind; subclasses set the class attributes and override ``judge``."""

    name: ClassVar[str]
    summary: ClassVar[str]  # one line: what the kind checks (docs, ``unknown kind`` errors)
    keys: ClassVar[frozenset[str]]  # the fields allowed under the kind's key
    required: ClassVar[frozenset[str]] = frozenset()
    default_traffic: ClassVar[str] = "any"
    default_src: ClassVar[tuple[str, ...]] = ()
    default_dst: ClassVar[tuple[str, ...]] = ()
    vacuous: ClassVar[bool] = False  # holds on a network that forwards nothing (isolation)

    def parse_fields(
        self,
        body: Mapping[object, object],
        where: Callable[[str], str],
        errors: list[str],
        nested: ParseNested,
    ) -> dict[str, object]:
        """Behaviour fields from the kind's own keys (not selectors, traffic); problems into ``errors``."""
        return {}

    def describe(self, b: Behaviour) -> str:
        """The default description of a behaviour of this kind (when the spec gives none)."""
        traffic = b.traffic.text if b.traffic else "any"
        return f"{self.name} for {traffic} from {','.join(b.src)} to {','.join(b.dst)}"

    def judge(self, grader: Grader, b: Behaviour, down: Down) -> Verdict:
        """Judge the behaviour on the grader's flow state with links ``down``."""
        raise NotImplementedError

    def check(self, grader: Grader, b: Behaviour) -> list[str]:
        """Problems of the behaviour against the topology (selectors that name no node, ...)."""
        errors: list[str] = []
        for key, hosts_only in SELECTOR_KEYS.items():
            if key not in self.keys:
                continue
            for sel in getattr(b, key):
                try:
                    grader.resolve((sel,), b.where, f"{b.kind}.{key}", hosts_only=hosts_only)
                except SpecError as exc:
                    errors.append(str(exc))
        return errors

    def probe_cases(
        self, grader: Grader, b: Behaviour, scenario: frozenset[frozenset[str]]
    ) -> Iterator[ProbeCase]:
        """The (src, dst) cases live probes sample for this behaviour (``scenario``: links down now)."""
        srcs = grader.resolve(b.src, b.where, f"{b.kind}.src")
        dsts: list[str | None] = list(grader.resolve(b.dst, b.where, f"{b.kind}.dst")) if b.dst else [None]
        for src in srcs:
            for dst in dsts:
                if src != dst:
                    host = dst if dst in grader.fabric.hosts else None
                    yield ProbeCase(src, dst or "", host, b)


_REGISTRY: dict[str, BehaviourKind] = {}


def register(cls: type[BehaviourKind]) -> type[BehaviourKind]:
    """Class decorator: make ``cls`` a behaviour kind usable in specs under ``cls.name``."""
    if cls.name in _REGISTRY:
        raise ValueError(f"behaviour kind {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls()
    return cls


def kinds() -> dict[str, BehaviourKind]:
    """Every registered kind by name, in registration order."""
    return dict(_REGISTRY)


def kind_named(name: str) -> BehaviourKind:
    """The kind called ``name`` (KeyError if none)."""
    return _REGISTRY[name]
