"""Frames to IEEE 802.1 link-local group addresses are not a switch's to flood."""

import pytest

from sdnlab.controller.packets import ETH_TYPE_LLDP, is_link_local, not_for_flooding


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


def test_the_controller_reads_lldp_and_drops_lacp_and_stp():
    assert not not_for_flooding("01:80:c2:00:00:0e", ETH_TYPE_LLDP)  # its own link discovery
    assert not_for_flooding("01:80:c2:00:00:02", 0x8809)  # LACP (slow protocols)
    assert not_for_flooding("01:80:c2:00:00:00", 0x0026)  # STP (802.3 length field)
    assert not not_for_flooding("ff:ff:ff:ff:ff:ff", 0x0806)
