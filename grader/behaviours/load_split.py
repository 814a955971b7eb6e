"""``load_split``: the class from src to dst is spread so that every node of ``over`` carries some of it."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from sdnlab.grader.behaviours.base import BehaviourKind, Verdict, register
from sdnlab.grader.network import Delivered, leaves
from sdnlab.grader.report import Failure

if TYPE_CHECKING:
    from sdnlab.grader.grading import Down, Grader
    from sdnlab.grader.spec import Behaviour


@register
class LoadSplit(BehaviourKind):
    name = "load_split"
    summary = "part of the traffic class from src to dst crosses each node of over"
    keys = frozenset({"src", "dst", "traffic", "over"})
    required = frozenset({"src", "dst", "over"})

    def describe(self, b: Behaviour) -> str:
        traffic = b.traffic.text if b.traffic else "any"
        return f"{traffic} from {','.join(b.src)} to {','.join(b.dst)} is spread over {','.join(b.over)}"

    def judge(self, grader: Grader, b: Behaviour, down: Down) -> Verdict:
        from sdnlab.grader.grading import MAX_FAILURES_SHOWN

        over = grader.resolve(b.over, b.where, "load_split.over", hosts_only=False)
        cases = passed = 0
        failures: list[Failure] = []
        assert b.traffic is not None
        for src, dst in grader.pairs(b):
            reached: set[str] = set()
            taken: list[tuple[Delivered, int]] = []  # delivered parts and their trees' preferred packets
            for tree, prefer in grader.trees(src, dst, b.traffic, down):
                for leaf in leaves(tree):
                    if isinstance(leaf, Delivered) and (
                        leaf.space.is_concrete or leaf.space.pick() is not None
                    ):
                        reached.add(leaf.host)
                        reached.update(hop.switch for hop in leaf.hops)
                        taken.append((leaf, prefer))
            for target in over:
                cases += 1
                if target in reached:
                    passed += 1
                elif len(failures) < MAX_FAILURES_SHOWN:
                    seen = ", ".join(sorted(h for h in reached if h in over)) or "none of them"
                    message = f"no part of the class reaches {target} (reached: {seen})"
                    failures.append(_taken_instead(grader, src, dst, target, message, taken, down))
        return Verdict(cases, passed, tuple(failures))


def _taken_instead(
    grader: Grader,
    src: str,
    dst: str,
    target: str,
    message: str,
    taken: list[tuple[Delivered, int]],
    down: Down,
) -> Failure:
    """The failure with the way the class goes instead (a witness packet traced hop by hop), the
    rule blamed at the first switch on it wired to ``target`` (it sends everything elsewhere)."""
    if not taken:
        return Failure(src, dst, message)
    leaf, prefer = taken[0]
    failure = grader.explain(
        src, dst, leaf.space, prefer, message, down, pick=lambda x: isinstance(x, Delivered)
    )
    for hop in failure.trace:
        if grader.fabric.link_between(hop["switch"], target) is not None and hop["rules"]:
            return replace(failure, blame=hop["rules"][-1])
    return replace(failure, blame=None)
