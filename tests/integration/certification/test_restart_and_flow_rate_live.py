"""The controller-restart and flow-rate scenarios on real networks (lab 2's tree, a Ryu app on
os-ken): the reference learning switch re-installs its table-miss flow when a switch reconnects
empty and installs a flow per new meter, so it earns full credit; a deliberately bad app (it
sets a switch up only the first time it connects, and floods every packet through the
controller without installing flows) earns none on either."""

from __future__ import annotations

import math
import shutil

import pytest

from sdnlab.certification.scenarios import parse, scored_item
from sdnlab.labs import live, load_lab
from sdnlab.runtime import api

pytestmark = pytest.mark.network

RESTART = {
    "id": "restart",
    "description": "the switches reconnect empty: time until h1 reaches h4 again",
    "controller_restart": {"src": "h1", "dst": "h4", "timeout": 4},
    # about 200 ms on a quiet machine; a loaded one (other labs running) adds up to seconds
    "bands": [{"max": 1000, "credit": 1.0}, {"max": 3500, "credit": 0.5}],
}
METERS = {
    "id": "meters",
    "description": "1000 meters appear behind h1: flows installed per second on its switch",
    "flow_rate": {"src": "h1", "dst": "h4", "meters": 1000, "timeout": 4},
    "bands": [{"min": 100, "credit": 1.0}, {"min": 25, "credit": 0.5}],
}

# set up a switch only the first time it connects (a reconnecting switch stays empty)
ONCE = (
    "        datapath = ev.msg.datapath\n",
    (
        "        datapath = ev.msg.datapath\n"
        "        if datapath.id in self.mac_to_port:\n"
        "            return\n"
        "        self.mac_to_port[datapath.id] = {}\n"
    ),
)


def _scenario(raw):
    problems: list[str] = []
    scenario = parse(raw, raw["id"], lambda *args: problems.append(str(args)))
    assert scenario is not None and problems == []
    return scenario


def _measure(lab, workdir, name: str) -> dict:
    topology = live.load_topology(lab)
    live.up(lab, workdir, name)
    try:
        live.run_scenario(lab, name, topology)  # pingall: the app has learned every host
        return {raw["id"]: scored_item(_scenario(raw), name, topology) for raw in (RESTART, METERS)}
    finally:
        api.down(name)


@pytest.fixture
def lab():
    return load_lab("l2_learning")


def test_the_reference_app_comes_back_fast_and_installs_a_flow_per_meter(lab, tmp_path):
    shutil.copytree(lab.solution_dir, tmp_path / "ref")
    items = _measure(lab, tmp_path / "ref", "lab-tscrref")
    restart, ms = items["restart"]
    assert restart.score >= restart.weight / 2, restart.details  # full on a quiet machine
    assert ms <= 3500 and "forwarded again after" in restart.details[0]
    meters, per_second = items["meters"]
    assert meters.score >= meters.weight / 2, meters.details  # full on a quiet machine
    assert per_second >= 25


def test_an_app_that_forgets_reconnecting_switches_and_installs_no_flows_earns_nothing(lab, tmp_path):
    shutil.copytree(lab.starter_dir, tmp_path / "bad")
    app = tmp_path / "bad" / "l2_switch.py"
    text = app.read_text()
    assert ONCE[0] in text
    app.write_text(text.replace(ONCE[0], ONCE[1], 1))
    items = _measure(lab, tmp_path / "bad", "lab-tscrbad")
    restart, ms = items["restart"]
    assert restart.score == 0.0 and ms == math.inf, restart.details
    assert "never forwarded again" in restart.details[0]
    meters, per_second = items["meters"]
    assert meters.score == 0.0 and per_second == 0.0, meters.details
    assert "0 of 1000 meters" in meters.details[0]
