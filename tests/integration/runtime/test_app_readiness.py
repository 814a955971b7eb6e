"""A lab whose controller is an app is ready once the app has taken every switch in.

An app's switch-features handler runs after the switch's TCP connection is up (the OpenFlow
handshake comes first) and may take a while (a REST app files the datapath, a hub installs its
table-miss flow). ``up`` returns only after every loaded app has handled every switch's features:
a flow the app installs there is on the switch when ``up`` returns, even when the handler is slow.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from sdnlab.runtime import api

pytestmark = pytest.mark.network

LAB = "t-app-ready"
COOKIE = 0x5105
SLOW_APP = f"""
import time

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3


class SlowToTakeIn(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        time.sleep(1.5)  # a slow app: the flow comes well after the TCP connection
        dp = ev.msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        to_controller = [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)]
        dp.send_msg(parser.OFPFlowMod(
            dp, cookie={COOKIE}, priority=0, match=parser.OFPMatch(),
            instructions=[parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, to_controller)],
        ))
"""


def has_the_apps_flow(bridge: str, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while True:
        flows = subprocess.run(
            ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", bridge], capture_output=True, text=True
        ).stdout
        if f"cookie={COOKIE:#x}" in flows:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_up_returns_after_a_slow_app_has_handled_every_switch(lab_factory, tmp_path):
    app = tmp_path / "slow_app.py"
    app.write_text(SLOW_APP)
    lab_factory("linear", {"switches": 2, "hosts_per_switch": 1}, name=LAB, controller=f"app:{app}")
    # the flow-mod leaves as the handler returns; allow it the time to cross one socket, not 1.5 s
    for switch in ("s1", "s2"):
        assert has_the_apps_flow(api.bridge(LAB, switch), within_s=0.5), switch
