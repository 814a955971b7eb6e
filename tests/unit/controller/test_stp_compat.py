"""stplib reads Open vSwitch's OpenFlow 1.3 port states right: only LINK_DOWN changes are link changes."""

from __future__ import annotations

from types import SimpleNamespace

from os_ken.lib import stplib
from os_ken.ofproto import ofproto_v1_3

from sdnlab.controller import hardening

LIVE, LINK_DOWN = ofproto_v1_3.OFPPS_LIVE, ofproto_v1_3.OFPPS_LINK_DOWN


class RecordingBridge:
    def __init__(self, state):
        self.ports_state = {2: state}
        self.calls = []

    def link_up(self, port):
        self.calls.append("up")

    def link_down(self, port):
        self.calls.append("down")


def port_status(state):
    datapath = SimpleNamespace(id=1, ofproto=ofproto_v1_3)
    desc = SimpleNamespace(port_no=2, state=state)
    return SimpleNamespace(
        msg=SimpleNamespace(datapath=datapath, desc=desc, reason=ofproto_v1_3.OFPPR_MODIFY)
    )


def feed(states, start=LIVE):
    hardening.install_stp_port_status()
    app = stplib.Stp()
    bridge = RecordingBridge(start)
    app.bridge_list[1] = bridge
    for state in states:
        app.port_status_handler(port_status(state))
    return bridge


def test_ovs_clearing_live_before_link_down_is_one_link_down_not_up_then_down():
    bridge = feed([0, LINK_DOWN])
    assert bridge.calls == ["down"]


def test_link_coming_back_is_one_link_up():
    bridge = feed([LIVE], start=LINK_DOWN)
    assert bridge.calls == ["up"]


def test_the_fixed_handler_is_still_registered_for_port_status_events():
    hardening.install_stp_port_status()
    hardening.install_stp_port_status()  # idempotent
    from os_ken.controller import ofp_event

    assert ofp_event.EventOFPPortStatus in stplib.Stp.port_status_handler.callers
