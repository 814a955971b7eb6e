"""``isolate``: no packet of the class from any src host is delivered to any dst host.

Isolation holds on a network that forwards nothing, so a lab should tie it to the reachability it
protects with ``requires:`` (see docs/grader.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sdnlab.grader.behaviours.base import BehaviourKind, Verdict, register
from sdnlab.grader.network import Delivered, leaves
from sdnlab.grader.report import Failure

if TYPE_CHECKING:
    from sdnlab.grader.grading import Down, Grader
    from sdnlab.grader.headerspace import Space
    from sdnlab.grader.network import Leaf
    from sdnlab.grader.spec import Behaviour


@register
class Isolate(BehaviourKind):
    name = "isolate"
    summary = "no packet of the traffic class from any src is delivered to any dst"
    keys = frozenset({"src", "dst", "traffic"})
    required = frozenset({"src", "dst"})
    vacuous = True

    def describe(self, b: Behaviour) -> str:
        traffic = b.traffic.text if b.traffic else "any"
        return f"{traffic} from {','.join(b.src)} never reaches {','.join(b.dst)}"

    def judge(self, grader: Grader, b: Behaviour, down: Down) -> Verdict:
        from sdnlab.grader.grading import MAX_FAILURES_SHOWN

        cases = passed = 0
        failures: list[Failure] = []
        dst_set = set(grader.resolve(b.dst, b.where, "isolate.dst"))
        assert b.traffic is not None
        for src in grader.resolve(b.src, b.where, "isolate.src"):
            reached: dict[str, tuple[Space, int]] = {}
            for tree, prefer in grader.trees(src, None, b.traffic, down):
                for leaf in leaves(tree):
                    if (
                        isinstance(leaf, Delivered)
                        and leaf.host in dst_set
                        and leaf.host != src
                        and (leaf.space.is_concrete or leaf.space.pick() is not None)
                    ):
                        reached.setdefault(leaf.host, (leaf.space, prefer))
            total = len(dst_set) - (src in dst_set)
            cases += total
            passed += total - len(reached)
            for dst, (space, prefer) in reached.items():
                if len(failures) >= MAX_FAILURES_SHOWN:
                    break

                def delivered_to(leaf: Leaf, d: str = dst) -> bool:
                    return isinstance(leaf, Delivered) and leaf.host == d

                failures.append(
                    grader.explain(
                        src,
                        dst,
                        space,
                        grader.prefer_towards(dst, space, prefer),
                        "delivered but must be isolated",
                        down,
                        pick=delivered_to,
                    )
                )
        return Verdict(cases, passed, tuple(failures))
