"""``no_loop``: no part of the class sent by any src host loops forever."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from sdnlab.grader.behaviours.base import BehaviourKind, ProbeCase, Verdict, register
from sdnlab.grader.network import Looped, leaves
from sdnlab.grader.report import Failure

if TYPE_CHECKING:
    from sdnlab.grader.grading import Down, Grader
    from sdnlab.grader.headerspace import Space
    from sdnlab.grader.network import Leaf
    from sdnlab.grader.spec import Behaviour


def _looped(leaf: Leaf) -> bool:
    return isinstance(leaf, Looped)


@register
class NoLoop(BehaviourKind):
    name = "no_loop"
    summary = "no packet of the traffic class from any src loops forever"
    keys = frozenset({"src", "traffic"})
    default_traffic = "ip"
    default_src = ("all",)
    vacuous = True

    def describe(self, b: Behaviour) -> str:
        traffic = b.traffic.text if b.traffic else "any"
        return f"no forwarding loop for {traffic} from {','.join(b.src)}"

    def judge(self, grader: Grader, b: Behaviour, down: Down) -> Verdict:
        from sdnlab.grader.grading import MAX_FAILURES_SHOWN

        cases = passed = 0
        failures: list[Failure] = []
        assert b.traffic is not None
        for src in grader.resolve(b.src, b.where, "no_loop.src"):
            cases += 1
            bad: tuple[Space, int] | None = None
            for tree, prefer in grader.trees(src, None, b.traffic, down):
                bad = next(((leaf.space, prefer) for leaf in leaves(tree) if isinstance(leaf, Looped)), None)
                if bad:
                    break
            if bad is None:
                passed += 1
            elif len(failures) < MAX_FAILURES_SHOWN:
                failures.append(
                    grader.explain(src, "*", bad[0], bad[1], "forwarding loop", down, pick=_looped)
                )
        return Verdict(cases, passed, tuple(failures))

    def probe_cases(
        self, grader: Grader, b: Behaviour, scenario: frozenset[frozenset[str]]
    ) -> Iterator[ProbeCase]:
        for src in grader.resolve(b.src, b.where, "no_loop.src"):
            yield ProbeCase(src, "", None, b)
