"""Reference diff: compare the trainee's network with the instructor's reference flow set.

For every ordered pair of hosts and each basic traffic class (ICMP echo, TCP, UDP, ARP), both
networks are judged symbolically: is the class delivered to the destination fully, partly or not
at all? Every pair/class where they differ is reported as missing (the reference delivers more)
or extra (the trainee delivers more). No hand-written checks are needed. Classes that either side
sends to its controller are listed as controller-dependent (the app decides at run time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sdnlab.grader.grading import Grader
from sdnlab.grader.model import NetworkState
from sdnlab.grader.network import Delivered, ToControllerLeaf, failing, leaves
from sdnlab.grader.spec import TrafficClass, parse_traffic

if TYPE_CHECKING:
    from sdnlab.topologies import Topology

CLASSES = ("icmp", "tcp", "udp", "arp")


@dataclass(frozen=True)
class Difference:
    src: str
    dst: str
    traffic: str
    trainee: str  # full | partial | none | controller
    reference: str

    @property
    def kind(self) -> str:
        if "controller" in (self.trainee, self.reference):
            return "controller-dependent"  # the app decides at run time; not a static difference
        order = {"none": 0, "partial": 1, "full": 2}
        return "missing" if order[self.trainee] < order[self.reference] else "extra"

    def describe(self) -> str:
        return (
            f"{self.kind}: {self.traffic} {self.src} -> {self.dst}: "
            f"yours delivers {self.trainee}, reference {self.reference}"
        )


def _delivery(grader: Grader, src: str, dst: str, traffic: TrafficClass) -> str:
    """full | partial | none, or controller when undelivered packets go to the controller."""
    full, some, controller = True, False, False
    for tree, _ in grader.trees(src, dst, traffic):
        for leaf in leaves(tree):
            if isinstance(leaf, Delivered) and leaf.host == dst:
                some = True
            elif isinstance(leaf, ToControllerLeaf):
                controller = True
        fails = failing(tree, lambda leaf: isinstance(leaf, Delivered) and leaf.host == dst)
        if any(space.is_concrete or space.pick() is not None for space in fails):
            full = False
    if full:
        return "full"
    return "controller" if controller else ("partial" if some else "none")


def reference_diff(
    topology: Topology, trainee: NetworkState, reference: NetworkState, hosts: Iterable[str] | None = None
) -> tuple[Difference, ...]:
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


def collect_reference(reference: str, topology: Topology, warmup_hosts: int = 30) -> NetworkState:
    """The reference solution's flow state from ``DIR`` (saved dumps), ``lab:NAME`` (a running lab
    with the reference app) or ``app:MODULE`` (started in a temporary lab on the same topology,
    warmed up with one ping per host pair so a reactive app installs its flows, then stopped)."""
    from sdnlab.grader import collect

    if reference.startswith("lab:"):
        return collect.from_lab(reference[4:])
    if not reference.startswith("app:"):
        return collect.from_dir(Path(reference))
    from concurrent.futures import ThreadPoolExecutor

    from sdnlab.runtime import api

    name = "grref"
    api.up(topology.source or topology.name, dict(topology.params), name=name, controller=reference)
    try:
        hosts = [h for h in topology.hosts() if h.ip][:warmup_hosts]
        pairs = [(a, b) for a in hosts for b in hosts if a is not b]
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda ab: api.run_in(
                        name, ab[0].name, ["ping", "-c", "1", "-W", "1", ab[1].ip], timeout=10
                    ),
                    pairs,
                )
            )
        return collect.from_lab(name)
    finally:
        api.down(name)
