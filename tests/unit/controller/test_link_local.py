"""Frames to IEEE 802.1 link-local group addresses are not a switch's to flood."""

import pytest

from sdnlab.controller.packets import is_link_local


@pytest.mark.parametrize(
    "dst",
    ["01:80:c2:00:00:00", "01:80:c2:00:00:02", "01:80:C2:00:00:0E", "01:80:c2:00:00:0f"],
)
def test_stp_lacp_and_lldp_addresses_are_link_local(dst):
    assert is_link_local(dst)


@pytest.mark.parametrize(
    "dst",
    ["ff:ff:ff:ff:ff:ff", "01:80:c2:00:00:10", "01:00:5e:00:00:01", "00:00:00:00:00:02", "01:80:c2:00:01:00"],
)
def test_broadcast_multicast_and_unicast_are_not(dst):
    assert not is_link_local(dst)
