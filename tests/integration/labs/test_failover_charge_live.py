"""Lab 8's cut accounting charges an answer that switches over late (``sdnlab.labs.failover``).

A cut is judged by when the cut switch sent the feed on again, against a witness bridge cut at
the same instant. That must not make a slow answer look fast: here st1 forwards rx3's feed on
the st1-st2 fibre with no backup, and a stand-in for a controller moves it to st4 only
``REACTION_S`` after it sees the fibre go down. One cut must charge that reaction less what the
switch process itself needed (the witness): beyond the full-credit bound of 50 ms unless
ovs-vswitchd stalled for most of it.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sdnlab.labs import failover, live, load_lab
from sdnlab.labs.probes import switch_interface
from sdnlab.runtime import api

pytestmark = pytest.mark.network

NAME = "t-fo-charge"
REACTION_S = 0.2
RX3 = "10.51.0.2"  # rx3's address: group 3 of the reference st1 (primary st2 = port 3, backup st4 = 4)


def _without_backup(solution: Path, to: Path) -> None:
    """The reference, but st1 sends rx3's traffic to st2 (port 3) only."""
    shutil.copytree(solution, to)
    flows = to / "flows" / "st1.flows"
    text = flows.read_text()
    assert f"nw_dst={RX3},actions=group:3" in text, "the reference st1 no longer uses group 3 for rx3"
    flows.write_text(text.replace("actions=group:3", "actions=output:3"))


def _slow_controller(bridge: str, port_intf: str, stop: threading.Event, moved: list[float]) -> None:
    """When ``port_intf`` goes down, wait REACTION_S, then send rx3's traffic out of port 4."""
    operstate = Path(f"/sys/class/net/{port_intf}/operstate")
    while not stop.is_set():
        if operstate.read_text().strip() == "down":
            time.sleep(REACTION_S)
            moved.append(time.time())  # st1 cannot send the feed on before this
            for match in (f"ip,nw_dst={RX3}", f"arp,arp_tpa={RX3}"):
                flow = f"priority=100,{match},actions=output:4"
                subprocess.run(
                    ["ovs-ofctl", "-O", "OpenFlow13", "mod-flows", bridge, flow],
                    check=True,
                    capture_output=True,
                )
            return
        time.sleep(0.002)


def _cut_with_a_slow_controller(topology, cut_times: list[float]) -> tuple[failover.Cut, float, float]:
    """One cut of st1-st2 with the stand-in controller watching; its move is undone afterwards.
    Returns the cut, when its command returned (the cut's times are ms after about then) and
    when the stand-in started its move."""
    bridge = api.bridge(NAME, "st1")
    stop, moved = threading.Event(), []
    watcher = threading.Thread(
        target=_slow_controller,
        args=(bridge, switch_interface(NAME, topology, "st1", "st2"), stop, moved),
        daemon=True,
    )
    watcher.start()
    try:
        with failover.witness_bridge(NAME) as witness:
            cut = failover.measure_cut(NAME, topology, "playout", "rx3", ("st1", "st2"), 5004, witness)
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert moved, "the stand-in controller never saw the fibre go down"
    for match in (f"ip,nw_dst={RX3}", f"arp,arp_tpa={RX3}"):
        flow = f"priority=100,{match},actions=output:3"
        subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "mod-flows", bridge, flow], check=True)
    return cut, cut_times[-1], moved[0]


def test_an_answer_that_switches_over_late_is_charged_its_reaction(tmp_path, monkeypatch):
    lab = load_lab("broadcast_failover")
    _without_backup(lab.solution_dir, tmp_path / "slow")
    topology = live.load_topology(lab)
    real_run, cut_times = failover._run, []

    def run(argv, what, stdin=None):  # the cut's times count from about when its command returned
        real_run(argv, what, stdin)
        if what == "cut":
            cut_times.append(time.time())

    monkeypatch.setattr(failover, "_run", run)
    live.up(lab, tmp_path / "slow", NAME)
    try:
        # as best_cut, a cut after which not even the witness resumed says nothing; nor does one
        # in which the feed lost nothing (ovs-vswitchd, or the feed's sender, stalled from the
        # cut until after the move: then nothing was lost, and nothing is charged)
        made = []
        while len(made) < 3 and not (made and made[-1][0].judged and made[-1][0].loss_ms > 0):
            made.append(_cut_with_a_slow_controller(topology, cut_times))
        cut, cut_at, move_at = made[-1]
        assert cut.judged and cut.loss_ms > 0 and cut.recovered and cut.witness_ms is not None, made
        slack_ms = 20  # the cut's own time is taken a moment after its command returned
        # st1 cannot have sent the feed on before the move started
        assert (cut_at - move_at) * 1000 + cut.loss_ms >= -slack_ms, (cut, cut_at, move_at)
        # it is charged from when the witness resumed until then at least (the switch process
        # itself needed until the witness resumed: a few ms on a quiet machine, more under load)
        witness_to_move_ms = (move_at - cut_at) * 1000 - cut.witness_ms
        assert cut.charged_ms >= witness_to_move_ms - cut.silent_ms - slack_ms, cut.text("st1", "rx3")
        assert witness_to_move_ms < 100 or cut.charged_ms > 50, cut.text("st1", "rx3")
    finally:
        api.down(NAME)
