"""``waypoint``: the class from each src reaches each dst through at least one of ``via``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sdnlab.grader.behaviours.base import BehaviourKind, Verdict, register

if TYPE_CHECKING:
    from sdnlab.grader.grading import Down, Grader
    from sdnlab.grader.network import Delivered
    from sdnlab.grader.spec import Behaviour


@register
class Waypoint(BehaviourKind):
    name = "waypoint"
    summary = "the traffic class from each src reaches each dst through one of the via nodes"
    keys = frozenset({"src", "dst", "traffic", "via"})
    required = frozenset({"src", "dst", "via"})

    def describe(self, b: Behaviour) -> str:
        traffic = b.traffic.text if b.traffic else "any"
        return f"{traffic} from {','.join(b.src)} reaches {','.join(b.dst)} through {','.join(b.via)}"

    def judge(self, grader: Grader, b: Behaviour, down: Down) -> Verdict:
        via = set(grader.resolve(b.via, b.where, "waypoint.via", hosts_only=False))

        def through(leaf: Delivered, src: str, dst: str) -> bool:
            return bool({hop.switch for hop in leaf.hops} & via)

        return grader.reach_cases(b, down, through, f"not delivered through {', '.join(sorted(via))}")
