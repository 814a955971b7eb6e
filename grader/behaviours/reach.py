"""``reach``: every packet of the class from each src host is delivered to each dst."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sdnlab.grader.behaviours.base import BehaviourKind, Verdict, register

if TYPE_CHECKING:
    from sdnlab.grader.grading import Down, Grader
    from sdnlab.grader.spec import Behaviour


@register
class Reach(BehaviourKind):
    name = "reach"
    summary = "every packet of the traffic class from each src is delivered to each dst"
    keys = frozenset({"src", "dst", "traffic"})
    required = frozenset({"src", "dst"})

    def describe(self, b: Behaviour) -> str:
        traffic = b.traffic.text if b.traffic else "any"
        return f"{traffic} from {','.join(b.src)} reaches {','.join(b.dst)}"

    def judge(self, grader: Grader, b: Behaviour, down: Down) -> Verdict:
        return grader.reach_cases(b, down)
