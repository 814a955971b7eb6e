"""Parsing the few header fields the built-in logic needs straight from packet bytes."""

from __future__ import annotations

import struct

ETH_HEADER_LEN = 14
VLAN_TPID = 0x8100


def mac_text(raw: bytes) -> str:
    """``aa:bb:cc:dd:ee:ff`` from six bytes."""
    return ":".join(f"{byte:02x}" for byte in raw)


def ethernet_fields(data: bytes) -> tuple[str, str, int] | None:
    """``(eth_dst, eth_src, eth_type)`` of a frame (skipping one VLAN tag), or None if truncated."""
    if len(data) < ETH_HEADER_LEN:
        return None
    (eth_type,) = struct.unpack_from("!H", data, 12)
    if eth_type == VLAN_TPID and len(data) >= ETH_HEADER_LEN + 4:
        (eth_type,) = struct.unpack_from("!H", data, 16)
    return mac_text(data[0:6]), mac_text(data[6:12]), eth_type


# IEEE 802.1D reserves 01:80:c2:00:00:00 to :0f for link-local protocols (STP, LACP and other slow
# protocols, 802.1X, LLDP): a bridge never forwards them
LINK_LOCAL_PREFIX = "01:80:c2:00:00:0"
ETH_TYPE_LLDP = 0x88CC


def is_link_local(eth_dst: str) -> bool:
    """True for a frame to an IEEE 802.1 link-local group address, which a switch must not flood."""
    return eth_dst.lower().startswith(LINK_LOCAL_PREFIX)


def not_for_flooding(eth_dst: str, eth_type: int) -> bool:
    """A link-local frame the controller neither reads nor forwards (LACP, STP...); LLDP is read:
    the built-in controller discovers links with it."""
    return is_link_local(eth_dst) and eth_type != ETH_TYPE_LLDP
