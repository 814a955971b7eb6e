"""Ryu book, spanning tree chapter: on the three-switch ring, stplib breaks the loop and heals it.

The chapter's app (apps/simple_switch_stp_13.py, with short timers) runs in sdnlab's controller
runner on the catalogue's ``ring`` topology on real Open vSwitch + Mininet. Its ports must go
LISTEN -> LEARN -> FORWARD/BLOCK (which needs hub.Timeout to fire on the runner's hub), exactly
one port must block, hosts must reach each other without a broadcast storm, and cutting a ring
link must unblock the blocked port so that traffic flows around the other way.
"""

from __future__ import annotations

import functools
import re
import subprocess
import time
from pathlib import Path

import pytest
import waiting

from sdnlab.runtime import api, paths

pytestmark = pytest.mark.network

APPS = Path(__file__).parent / "apps"
LAB = "t-rb-stp"
STATE_LINE = re.compile(r"PORT-STATE dpid=([0-9a-f]{16}) port=(\d+) state=(\w+)")


def port_history(name: str) -> dict[tuple[int, int], list[str]]:
    """(dpid, port) -> the states the app was told about, in order, from the controller log."""
    history: dict[tuple[int, int], list[str]] = {}
    text = (paths.lab_dir(name) / "controller.log").read_text(errors="replace")
    for dpid, port, state in STATE_LINE.findall(text):
        history.setdefault((int(dpid, 16), int(port)), []).append(state)
    return history


# a wait that times out shows the last port state history
wait_for = functools.partial(waiting.wait_for, detail=lambda: port_history(LAB))


def ring_ports_settled(name: str, marks: int = 0) -> dict[tuple[int, int], str] | None:
    """The last state of every inter-switch port once none is LISTEN or LEARN, else None."""
    history = port_history(name)
    last = {key: states[-1] for key, states in history.items() if key[1] in (2, 3)}
    if len(last) < 6 or any(state in ("LISTEN", "LEARN") for state in last.values()):
        return None
    return last


def tx_packets(bridges: list[str]) -> int:
    """Packets sent by every port of the bridges so far."""
    total = 0
    for bridge in bridges:
        out = subprocess.run(
            ["ovs-ofctl", "-O", "OpenFlow13", "dump-ports", bridge], capture_output=True, text=True
        ).stdout
        total += sum(int(n) for n in re.findall(r"tx pkts=(\d+)", out))
    return total


def ping(src: str, dst_ip: str, count: int = 1) -> bool:
    return api.run_in(LAB, src, ["ping", "-c", str(count), "-W", "1", dst_ip], timeout=10).returncode == 0


def ping_until(src: str, dst_ip: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping(src, dst_ip):
            return True
    return False


def test_the_ring_converges_to_one_blocked_port_carries_traffic_and_heals_after_a_link_cut(lab_factory):
    state = lab_factory("ring", {}, name=LAB, controller=f"app:{APPS / 'simple_switch_stp_13_fast.py'}")
    ips = {h["name"]: h["ip"] for h in state["hosts"]}
    bridges = [s["bridge"] for s in state["switches"]]

    settled = wait_for(lambda: ring_ports_settled(LAB), 30, "converged")
    history = port_history(LAB)
    for key, states in history.items():
        # a port blocks and listens again whenever a better root appears; it settles through
        # LISTEN and LEARN (one forward delay each) or straight to BLOCK as a non-designated port
        final = states[-1]
        assert final in ("FORWARD", "BLOCK"), (key, states)
        if final == "FORWARD":
            assert states[-3:-1] == ["LISTEN", "LEARN"], (key, states)
    # s1 is the root (lowest priority), s2 next: the s2-s3 link is blocked at s3 (port 2)
    assert [key for key, s in settled.items() if s == "BLOCK"] == [(3, 2)], settled

    assert ping_until("h1", ips["h2"], 10) and ping("h1", ips["h3"]) and ping("h2", ips["h3"])

    # no broadcast storm: a few broadcasts cause a bounded number of transmissions, not a loop
    before = tx_packets(bridges)
    # (a ping to an address nobody has: h1's kernel broadcasts its ARP requests, 3 by default)
    api.run_in(LAB, "h1", ["ping", "-c", "3", "-i", "0.5", "-W", "1", "10.0.0.250"], timeout=10)
    time.sleep(1)
    sent = tx_packets(bridges) - before
    assert 3 <= sent < 200, f"{sent} transmissions for 3 broadcast ARP requests"

    # cut s1-s2: the blocked port at s3 takes over; traffic from h1 to h2 goes round via s3
    s1_to_s2 = api.bridge(LAB, "s1") + "-eth2"
    subprocess.run(["ip", "link", "set", s1_to_s2, "down"], check=True)
    try:
        healed = wait_for(
            lambda: port_history(LAB).get((3, 2), [])[-1:] == ["FORWARD"] and ring_ports_settled(LAB),
            40,
            "re-converged after the link cut",
        )
        assert port_history(LAB)[(3, 2)][-3:] == ["LISTEN", "LEARN", "FORWARD"], healed
        assert ping_until("h1", ips["h2"], 10)
    finally:
        subprocess.run(["ip", "link", "set", s1_to_s2, "up"], check=False)


@pytest.mark.slow
def test_with_the_books_default_timers_ports_forward_after_two_forward_delays(lab_factory):
    """802.1D defaults as in the book (forward delay 15 s): FORWARD about 30 s after LISTEN."""
    name = "t-rb-stp-slow"
    started = time.monotonic()
    state = lab_factory("ring", {}, name=name, controller=f"app:{APPS / 'simple_switch_stp_13.py'}")
    deadline = time.monotonic() + 75
    settled = None
    while time.monotonic() < deadline and settled is None:
        time.sleep(1)
        settled = ring_ports_settled(name)
    assert settled is not None, port_history(name)
    took = time.monotonic() - started
    assert 29 < took < 75, took  # LISTEN 15 s + LEARN 15 s (plus restarts when a better root appears)
    assert [key for key, s in settled.items() if s == "BLOCK"] == [(3, 2)], settled
    ips = {h["name"]: h["ip"] for h in state["hosts"]}
    assert api.run_in(name, "h1", ["ping", "-c", "2", "-W", "2", ips["h3"]], timeout=20).returncode == 0
