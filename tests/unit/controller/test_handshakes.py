"""The handshake ledger: a lab with an app controller is ready when every app has taken every switch in."""

from __future__ import annotations

import json

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER, set_ev_cls

from sdnlab.controller import handshakes


class Hub(app_manager.OSKenApp):
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        pass


class Tracker(app_manager.OSKenApp):
    @set_ev_cls(ofp_event.EventOFPStateChange, [MAIN_DISPATCHER, DEAD_DISPATCHER])
    def state(self, ev):
        pass


class Mourner(app_manager.OSKenApp):
    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    def gone(self, ev):
        pass


class Monitor(app_manager.OSKenApp):
    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def port(self, ev):
        pass


def test_apps_that_handle_a_switch_s_features_or_arrival_are_waited_for():
    assert handshakes.handles_arrivals(Hub()) and handshakes.handles_arrivals(Tracker())


def test_apps_that_only_see_switches_leave_or_ports_change_are_not():
    assert not handshakes.handles_arrivals(Mourner()) and not handshakes.handles_arrivals(Monitor())


def test_nothing_is_written_before_the_apps_are_known(tmp_path):
    ledger = handshakes.Ledger(str(tmp_path / "h.json"))
    ledger.record("Hub", 1)  # a switch quicker than the apps' start-up
    assert handshakes.taken_in(str(tmp_path / "h.json")) is None
    ledger.expect(["Hub", "Tracker"])
    written = json.loads((tmp_path / "h.json").read_text())
    assert written == {"expected": ["Hub", "Tracker"], "done": {"1": ["Hub"]}}


def test_a_switch_counts_once_every_expected_app_has_taken_it_in(tmp_path):
    path = str(tmp_path / "h.json")
    ledger = handshakes.Ledger(path)
    ledger.expect(["Hub", "Tracker"])
    ledger.record("Hub", 1)
    ledger.record("Hub", 2)
    ledger.record("Tracker", 2)
    assert handshakes.taken_in(path) == 1
    ledger.record("Tracker", 1)
    assert handshakes.taken_in(path) == 2


def test_an_unreadable_ledger_is_not_ready(tmp_path):
    assert handshakes.taken_in(str(tmp_path / "missing.json")) is None
    (tmp_path / "bad.json").write_text("{not json")
    assert handshakes.taken_in(str(tmp_path / "bad.json")) is None
    (tmp_path / "odd.json").write_text('["expected"]')
    assert handshakes.taken_in(str(tmp_path / "odd.json")) is None
