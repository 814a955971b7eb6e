"""``failover``: another behaviour still holds with the links of ``down`` failed."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from sdnlab.grader.behaviours.base import BehaviourKind, ParseNested, ProbeCase, Verdict, kind_named, register

if TYPE_CHECKING:
    from sdnlab.grader.grading import Down, Grader
    from sdnlab.grader.spec import Behaviour


@register
class Failover(BehaviourKind):
    name = "failover"
    summary = "the nested behaviour still holds with the down links failed"
    keys = frozenset({"down", "behaviour"})
    required = frozenset({"down", "behaviour"})

    def parse_fields(
        self,
        body: Mapping[object, object],
        where: Callable[[str], str],
        errors: list[str],
        nested: ParseNested,
    ) -> dict[str, object]:
        down = []
        items = body.get("down")
        if not isinstance(items, list):
            if "down" in body:
                errors.append(f"{where('down')}: failover.down: expected a list of links ([a, b] or 'a-b')")
            items = []
        for item in items:
            pair = item.split("-") if isinstance(item, str) else item
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(x, (str, int)) for x in pair)
            ):
                errors.append(
                    f"{where('down')}: failover.down: expected [a, b] or 'a-b' per link, got {item!r}"
                )
                continue
            down.append((str(pair[0]), str(pair[1])))
        fields: dict[str, object] = {"down": tuple(down)}
        raw = body.get("behaviour")
        if "behaviour" in body:
            if not isinstance(raw, Mapping):
                errors.append(f"{where('behaviour')}: failover.behaviour: expected a behaviour mapping")
            else:
                inner = nested(raw, where("behaviour"))
                if inner is not None and inner.kind == "failover":
                    errors.append(f"{where('behaviour')}: failover.behaviour: cannot nest failover")
                elif inner is not None:
                    fields["nested"] = inner
        return fields

    def describe(self, b: Behaviour) -> str:
        links = ", ".join("-".join(p) for p in b.down)
        inner = b.nested
        inner_text = kind_named(inner.kind).describe(inner) if inner is not None else "?"
        return f"with {links} down: {inner_text}"

    def judge(self, grader: Grader, b: Behaviour, down: Down) -> Verdict:
        from sdnlab.grader.errors import SpecError

        inner = b.nested
        assert inner is not None
        for a, z in b.down:
            if grader.fabric.link_between(a, z) is None:
                raise SpecError(f"{b.where}: failover.down: no link {a}-{z}")
        scenario = tuple(dict.fromkeys(tuple(down) + tuple(b.down)))
        return kind_named(inner.kind).judge(grader, inner, scenario)

    def check(self, grader: Grader, b: Behaviour) -> list[str]:
        errors = [
            f"{b.where}: failover.down: no link {a}-{z}"
            for a, z in b.down
            if grader.fabric.link_between(a, z) is None
        ]
        if b.nested is not None:
            errors += kind_named(b.nested.kind).check(grader, b.nested)
        return errors

    def probe_cases(
        self, grader: Grader, b: Behaviour, scenario: frozenset[frozenset[str]]
    ) -> Iterator[ProbeCase]:
        # Probed only when the live network is in exactly this failure scenario: the grader never
        # takes links down itself.
        if b.nested is None or frozenset(frozenset(pair) for pair in b.down) != scenario:
            return
        inner = replace(b.nested, id=b.id)
        yield from kind_named(inner.kind).probe_cases(grader, inner, scenario)
