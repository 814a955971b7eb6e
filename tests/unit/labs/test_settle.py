"""The ``settle`` scenario step: pingall until the pings change nothing on the switches.

A fake clock, a scripted switch (spanning tree state, learned flows that an app forgets at a
topology change) and counted pings stand in for the network; the step's ovs-ofctl reading is
exercised live (tests/integration/labs/test_labs_live.py, lab 11).
"""

from __future__ import annotations

from sdnlab.labs import live


class FakeNetwork:
    """A switch whose tree changes, and whose app forgets its flows, at given times."""

    def __init__(self, events: dict[float, str] | None = None, installs: bool = True, ping_s: float = 1.0):
        self.now = 0.0
        self.events = sorted((events or {}).items())  # time -> new tree state (the app forgets its flows)
        self.installs = installs
        self.ping_s = ping_s
        self.flows = False
        self.tree = "tree-0"
        self.pings: list[float] = []

    def clock(self) -> float:
        return self.now

    def _advance(self, seconds: float) -> None:
        end = self.now + seconds
        for at, tree in self.events:
            if self.now < at <= end:
                self.tree, self.flows = tree, False
        self.now = end

    def snapshot(self) -> tuple[str, ...]:
        return (self.tree, "learned flows" if self.flows else "table-miss only")

    def pingall(self, _name, _topology) -> str:
        self.pings.append(self.now)
        self._advance(0.2)
        self.flows = self.flows or self.installs
        self._advance(self.ping_s - 0.2)
        return "pingall: 6/6 pairs answered"

    def settle(self, stable_s: float, timeout_s: float) -> str:
        return live.settle(
            "lab",
            None,
            stable_s,
            timeout_s,
            snapshot=self.snapshot,
            clock=self.clock,
            pause=self._advance,
            pings=self.pingall,
        )


def test_a_quiet_network_is_pinged_twice_and_the_second_pings_change_nothing():
    net = FakeNetwork()
    line = net.settle(stable_s=8, timeout_s=60)
    assert len(net.pings) == 2
    assert net.pings[1] >= 1.0 + 8  # the pings (1 s), then 8 s unchanged
    assert line == "settle: pingall #2 changed nothing on the switches (pingall: 6/6 pairs answered)"
    assert net.flows


def test_flows_forgotten_during_the_pings_are_learned_again_by_the_next_pings():
    # the topology-change BPDUs go on while the pings run: the app forgets the flows they made
    net = FakeNetwork({0.5: "tree-0 (topology change)"})
    line = net.settle(stable_s=8, timeout_s=60)
    assert len(net.pings) == 3
    assert net.flows
    assert "pingall #2: " in line and "pingall #3 changed nothing" in line


def test_a_tree_change_after_the_pings_waits_for_quiet_then_pings_again():
    # the tree changes 2 s after the pings, then its ports forward again 6 s later
    net = FakeNetwork({3.0: "listening", 9.0: "forwarding"})
    line = net.settle(stable_s=8, timeout_s=60)
    assert net.pings[1] >= 9.0 + 8  # not before the network was quiet for stable_s
    assert net.flows and net.tree == "forwarding"
    assert "after pingall #1: 2 lines gone, 2 new, e.g. - learned flows; + listening" in line
    assert line.startswith(f"settle: pingall #{len(net.pings)} changed nothing")


def test_an_app_that_never_installs_flows_is_not_helped():
    net = FakeNetwork(installs=False)
    line = net.settle(stable_s=8, timeout_s=60)
    assert len(net.pings) == 2
    assert not net.flows
    assert "pingall #2 changed nothing" in line


def test_a_network_that_never_settles_gives_up_at_the_timeout():
    net = FakeNetwork({float(t): f"flap-{t}" for t in range(2, 200, 2)})
    line = net.settle(stable_s=4, timeout_s=20)
    assert 20.0 <= net.now < 21.6
    assert line.startswith("settle: switches still changing after 20 s, 1 pingall(s)")
