"""``no_blackhole``: no part of the class from src to dst is dropped or lost inside the network."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sdnlab.grader.behaviours.base import BehaviourKind, Verdict, register
from sdnlab.grader.network import Dropped, Lost, leaves
from sdnlab.grader.report import Failure

if TYPE_CHECKING:
    from sdnlab.grader.grading import Down, Grader
    from sdnlab.grader.headerspace import Space
    from sdnlab.grader.network import Leaf
    from sdnlab.grader.spec import Behaviour


def _hole(leaf: Leaf) -> bool:
    return isinstance(leaf, Lost) or (isinstance(leaf, Dropped) and not leaf.at_ingress)


@register
class NoBlackhole(BehaviourKind):
    name = "no_blackhole"
    summary = "no packet of the traffic class from src to dst is dropped inside the network"
    keys = frozenset({"src", "dst", "traffic"})
    default_traffic = "ip"
    default_src = ("all",)
    vacuous = True
    default_dst = ("all",)

    def describe(self, b: Behaviour) -> str:
        traffic = b.traffic.text if b.traffic else "any"
        return f"no black hole for {traffic} from {','.join(b.src)} to {','.join(b.dst)}"

    def judge(self, grader: Grader, b: Behaviour, down: Down) -> Verdict:
        from sdnlab.grader.grading import MAX_FAILURES_SHOWN

        cases = passed = 0
        failures: list[Failure] = []
        assert b.traffic is not None
        for src, dst in grader.pairs(b):
            cases += 1
            bad: tuple[Space, int] | None = None
            for tree, prefer in grader.trees(src, dst, b.traffic, down):
                bad = next(
                    (
                        (leaf.space, prefer)
                        for leaf in leaves(tree)
                        if _hole(leaf) and (leaf.space.is_concrete or leaf.space.pick() is not None)
                    ),
                    None,
                )
                if bad:
                    break
            if bad is None:
                passed += 1
            elif len(failures) < MAX_FAILURES_SHOWN:
                failures.append(
                    grader.explain(
                        src, dst, bad[0], bad[1], "black hole: dropped inside the network", down, pick=_hole
                    )
                )
        return Verdict(cases, passed, tuple(failures))
