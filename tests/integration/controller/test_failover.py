"""Protection: fast-failover groups let the switches survive a link cut with no controller at all.

A four-switch ring with declared topology and ``protection: true``. After the controller has
installed its flows it is stopped (the switches are fail-secure and keep them); then the ring link
carrying playout -> rx2 is cut, and traffic must still flow both ways over the long way round.
"""

from __future__ import annotations

import subprocess

import pytest
from ctl_netutil import build_net, diagnose, ping_until, reset_switches, skip_without_network, wait_connected
from processes import assert_stops_on_sigterm

from sdnlab.controller.process import ControllerProcess
from sdnlab.controller.testnet import ring_topo, topology_dump, write_json

pytestmark = pytest.mark.network

OF_PORT = 6760
REST_PORT = 8160


@pytest.fixture
def protected_ring():
    skip_without_network()
    net = build_net(ring_topo("ct6", 0x600), OF_PORT)
    ctl = None
    try:
        env = {
            "SDNLAB_TOPOLOGY_JSON": write_json(topology_dump(net)),
            "SDNLAB_CONTROLLER_CONFIG": write_json({"protection": True}),
        }
        ctl = ControllerProcess(["sdnlab.controller.apps.builtin"], OF_PORT, REST_PORT, env=env).start()
        reset_switches(net, OF_PORT)
        wait_connected(net)
        yield net, ctl
    finally:
        if ctl is not None:
            ctl.stop()
        net.stop()


def test_fast_failover_groups_carry_traffic_after_a_cut_without_the_controller(protected_ring):
    net, ctl = protected_ring
    playout, rx2 = net.get("playout", "rx2")
    assert ping_until(playout, rx2), diagnose(net, ctl)
    groups = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "dump-groups", "ct6s1"], capture_output=True, text=True
    ).stdout
    assert "type=ff" in groups and "watch_port:2" in groups and "watch_port:3" in groups, groups
    assert_stops_on_sigterm(ctl)  # from here on the switches are on their own
    net.configLinkStatus("ct6s1", "ct6s2", "down")
    assert ping_until(playout, rx2, seconds=10), diagnose(net)
    assert ping_until(rx2, playout, seconds=10), diagnose(net)
