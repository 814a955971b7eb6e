"""Reference diff: compare the trainee's network with the instructor's reference flow set.

For every ordered pair of hosts and each basic traffic class (ICMP echo, TCP, UDP, ARP), both
networks are judged symbolically: is the class delivered to the destination fully, partly or not
at all? Every pair/class where they differ is reported as missing (the reference delivers more)
or extra (the trainee delivers more). No hand-written checks are needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdnlab.grader.grading import Grader
from sdnlab.grader.model import NetworkState
from sdnlab.grader.network import Delivered, failing, leaves
from sdnlab.grader.spec import parse_traffic

CLASSES = ("icmp", "tcp", "udp", "arp")


@dataclass(frozen=True)
class Difference:
    src: str
    dst: str
    traffic: str
    trainee: str  # full | partial | none
    reference: str

    @property
    def kind(self) -> str:
        order = {"none": 0, "partial": 1, "full": 2}
        return "missing" if order[self.trainee] < order[self.reference] else "extra"

    def describe(self) -> str:
        return f"{self.kind}: {self.traffic} {self.src} -> {self.dst}: yours delivers {self.trainee}, reference {self.reference}"


def _delivery(grader: Grader, src: str, dst: str, traffic) -> str:
    full, some = True, False
    for tree, _ in grader.trees(src, dst, traffic):
        if any(isinstance(leaf, Delivered) and leaf.host == dst for leaf in leaves(tree)):
            some = True
        fails = failing(tree, lambda leaf: isinstance(leaf, Delivered) and leaf.host == dst)
        if any(space.is_concrete or space.pick() is not None for space in fails):
            full = False
    return "full" if full else ("partial" if some else "none")


def reference_diff(topology, trainee: NetworkState, reference: NetworkState, hosts=None) -> tuple[Difference, ...]:
    """Every (src, dst, class) whose delivery differs between trainee and reference."""
    mine, theirs = Grader(topology, trainee), Grader(topology, reference)
    names = list(hosts or mine.fabric.hosts)
    diffs = []
    for proto in CLASSES:
        traffic = parse_traffic(proto)
        for src in names:
            for dst in names:
                if src == dst:
                    continue
                a, b = _delivery(mine, src, dst, traffic), _delivery(theirs, src, dst, traffic)
                if a != b:
                    diffs.append(Difference(src, dst, proto, a, b))
    return tuple(diffs)
