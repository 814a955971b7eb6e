"""The ``settle`` scenario step: pingall, and ping again whenever the switches change right after.

A fake clock, a scripted switch state and counted pings stand in for the network; the step's
ovs-ofctl reading is exercised live (tests/integration/labs/test_labs_live.py, lab 11).
"""

from __future__ import annotations

from sdnlab.labs import live


class FakeNetwork:
    """Switch state that changes at given times; a clock that advances as the step pauses."""

    def __init__(self, changes: dict[float, str], ping_s: float = 1.0):
        self.now = 0.0
        self.changes = sorted(changes.items())
        self.ping_s = ping_s
        self.pings: list[float] = []

    def clock(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.now += seconds

    def snapshot(self) -> tuple[str, ...]:
        state = "tree-0"
        for at, value in self.changes:
            if self.now >= at:
                state = value
        return (state,)

    def pingall(self, _name, _topology) -> str:
        self.pings.append(self.now)
        self.now += self.ping_s
        return "pingall: 6/6 pairs answered"

    def settle(self, stable_s: float, timeout_s: float) -> str:
        return live.settle(
            "lab",
            None,
            stable_s,
            timeout_s,
            snapshot=self.snapshot,
            clock=self.clock,
            pause=self.pause,
            pings=self.pingall,
        )


def test_a_quiet_network_is_pinged_once_and_watched_for_stable_s():
    net = FakeNetwork({})
    line = net.settle(stable_s=4, timeout_s=30)
    assert net.pings == [0.0]
    assert 5.0 <= net.now < 5.6  # the pings (1 s) then 4 s unchanged
    assert line.startswith("settle: switches unchanged for 4 s after pingall #1 (pingall: 6/6")


def test_a_change_after_the_pings_waits_for_quiet_then_pings_again():
    # the tree changes 2 s after the pings (flows forgotten), then ports forward again 6 s later
    net = FakeNetwork({3.0: "listening, flows forgotten", 9.0: "forwarding"})
    line = net.settle(stable_s=7, timeout_s=60)
    assert len(net.pings) == 2
    assert net.pings[1] >= 9.0 + 7  # not before the network was quiet for stable_s
    assert "unchanged for 7 s after pingall #2" in line
    assert "after pingall #1: 1 lines gone, 1 new, e.g. - tree-0; + listening, flows forgotten" in line


def test_a_network_that_never_settles_gives_up_at_the_timeout():
    net = FakeNetwork({float(t): f"flap-{t}" for t in range(2, 200, 2)})
    line = net.settle(stable_s=4, timeout_s=20)
    assert 20.0 <= net.now < 21.6
    assert line.startswith("settle: switches still changing after 20 s, 1 pingall(s)")


def test_a_change_during_the_pings_themselves_counts_from_the_first_reading_after_them():
    # flows the pings installed are there when the watch starts: not a change
    net = FakeNetwork({0.5: "flows learned"})
    net.settle(stable_s=4, timeout_s=30)
    assert net.pings == [0.0]


def test_a_quiet_spell_shorter_than_stable_s_is_no_help_but_the_watch_after_the_pings_catches_it():
    # stable_s below a silent phase (stplib's LISTEN -> LEARN changes no port config): pinged too
    # early, the change that ends the phase comes within the watch and the pings are repeated
    net = FakeNetwork({3.0: "listening", 9.0: "forwarding"})
    line = net.settle(stable_s=4, timeout_s=60)
    assert len(net.pings) == 3
    assert net.pings[2] >= 9.0 + 4
    assert "unchanged for 4 s after pingall #3" in line
