"""``ping``: src can ping dst as a real ping does it, in both directions.

Four exchanges per (src, dst) case, each judged like ``reach``: the ARP request (broadcast) from
src reaches dst, the ARP reply from dst reaches src, the ICMP echo request from src reaches dst
and the echo reply from dst reaches src. ``reach`` with ``traffic: icmp`` checks only the third.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from sdnlab.grader.behaviours.base import BehaviourKind, ProbeCase, Verdict, register
from sdnlab.grader.report import Failure

if TYPE_CHECKING:
    from sdnlab.grader.grading import Down, Grader
    from sdnlab.grader.spec import Behaviour, TrafficClass


def _classes() -> tuple[TrafficClass, TrafficClass]:
    from sdnlab.grader.spec import TrafficClass

    return (
        TrafficClass("ARP request and ICMP echo request", ("arp", "icmp")),
        TrafficClass("ARP reply and ICMP echo reply", ("arp_reply", "icmp_reply")),
    )


@register
class Ping(BehaviourKind):
    name = "ping"
    summary = "src can ping dst: ARP request and reply, ICMP echo request and reply all delivered"
    keys = frozenset({"src", "dst"})
    required = frozenset({"src", "dst"})

    def describe(self, b: Behaviour) -> str:
        return f"{','.join(b.src)} can ping {','.join(b.dst)} (ARP request and reply, ICMP echo and reply)"

    def judge(self, grader: Grader, b: Behaviour, down: Down) -> Verdict:
        from sdnlab.grader.grading import MAX_FAILURES_SHOWN

        requests, replies = _classes()
        cases = passed = 0
        failures: list[Failure] = []
        for src, dst in grader.pairs(b):
            cases += 1
            failure = grader.reach_failure(src, dst, requests, down, "request not delivered")
            if failure is None:
                failure = grader.reach_failure(dst, src, replies, down, "reply not delivered back")
            if failure is None:
                passed += 1
            elif len(failures) < MAX_FAILURES_SHOWN:
                failures.append(failure)
        return Verdict(cases, passed, tuple(failures))

    def probe_cases(
        self, grader: Grader, b: Behaviour, scenario: frozenset[frozenset[str]]
    ) -> Iterator[ProbeCase]:
        requests, replies = _classes()
        for case in super().probe_cases(grader, replace(b, traffic=requests), scenario):
            yield case
            if case.class_dst is not None:
                yield ProbeCase(case.class_dst, case.src, case.src, replace(b, traffic=replies))
