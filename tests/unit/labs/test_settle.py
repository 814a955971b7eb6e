"""The ``settle`` scenario step: ping once the switches are quiet, and again if the app forgot flows.

A fake clock, a scripted switch (spanning tree state, learned flows that the app forgets at a
topology change) and counted pings stand in for the network; the step's ovs-ofctl reading is
exercised live (tests/integration/labs/test_labs_live.py, lab 11).
"""

from __future__ import annotations

import threading
import time

from sdnlab.labs import live


class FakeNetwork:
    """A switch whose tree changes, and whose app forgets its flows, at given times."""

    def __init__(
        self, events: dict[float, str] | None = None, installs: bool = True, forget_in_ping: int = 0
    ):
        self.now = 0.0
        self.events = sorted((events or {}).items())  # time -> new tree state (the app forgets its flows)
        self.installs = installs
        self.forget_in_ping = forget_in_ping  # the pingall (1, 2, ...) during which the app forgets
        self.flows = False
        self.tree = "tree-0"
        self.pings: list[float] = []
        self.flushes = 0
        self.flows_seen = threading.Event()
        self.lock = threading.Lock()
        self.pinging = threading.Event()

    def clock(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        if self.pinging.is_set():  # the pings take no time on the fake clock
            time.sleep(0.001)
            return
        with self.lock:
            end = self.now + seconds
            for at, tree in self.events:
                if self.now < at <= end:
                    self.tree, self.flows = tree, False
            self.now = end

    def snapshot(self) -> tuple[str, ...]:
        with self.lock:
            if self.flows:
                self.flows_seen.set()
            return ("table-miss flow", self.tree, *(["learned flows"] if self.flows else []))

    def flush(self, _name, _topology) -> None:
        self.flushes += 1

    def pingall(self, _name, _topology) -> str:
        self.pinging.set()
        self.pings.append(self.now)
        self.flows_seen.clear()
        with self.lock:
            self.flows = self.flows or self.installs
        if len(self.pings) == self.forget_in_ping:
            assert self.flows_seen.wait(5)  # the watcher read the flows, then the app forgets them
            with self.lock:
                self.flows = False
        self.pinging.clear()
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
            flush=self.flush,
            announce_hosts=lambda _name, _topology: None,
        )


def test_a_quiet_network_is_pinged_once_after_stable_s_and_watched_for_stable_s():
    net = FakeNetwork()
    line = net.settle(stable_s=10, timeout_s=90)
    assert len(net.pings) == 1 and net.pings[0] >= 10
    assert net.flushes == 1  # the pings start from empty neighbour caches
    assert net.now >= 20
    assert line == "settle: switches unchanged for 10 s after pingall #1 (pingall: 6/6 pairs answered)"
    assert net.flows


def test_the_pings_wait_until_the_tree_has_been_quiet_for_stable_s():
    net = FakeNetwork({2.0: "listening", 8.0: "forwarding"})
    net.settle(stable_s=10, timeout_s=90)
    assert net.pings == [net.pings[0]] and net.pings[0] >= 8.0 + 10


def test_flows_forgotten_during_the_pings_start_another_round():
    net = FakeNetwork(forget_in_ping=1)
    line = net.settle(stable_s=10, timeout_s=90)
    assert len(net.pings) == 2 and net.flushes == 2
    assert net.flows
    assert "; during pingall #1: 1 lines gone, 0 new, e.g. - learned flows" in line
    assert line.startswith("settle: switches unchanged for 10 s after pingall #2")


def test_a_tree_change_after_the_pings_starts_another_round():
    net = FakeNetwork({15.0: "listening", 21.0: "forwarding"})
    line = net.settle(stable_s=10, timeout_s=90)
    assert len(net.pings) == 2 and net.pings[1] >= 21.0 + 10
    assert net.flows and net.tree == "forwarding"
    assert "after pingall #1: 2 lines gone, 1 new, e.g. - learned flows; + listening" in line


def test_an_app_that_never_installs_flows_is_not_helped():
    net = FakeNetwork(installs=False)
    line = net.settle(stable_s=10, timeout_s=90)
    assert len(net.pings) == 1 and not net.flows
    assert line.startswith("settle: switches unchanged for 10 s after pingall #1")


def test_a_network_that_never_settles_gives_up_at_the_timeout():
    net = FakeNetwork({float(t): f"flap-{t}" for t in range(2, 200, 2)})
    line = net.settle(stable_s=4, timeout_s=20)
    assert 20.0 <= net.now < 21.6
    assert net.pings == []
    assert line.startswith("settle: switches still changing after 20 s, 0 pingall(s) (no pingall)")
