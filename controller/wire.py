"""Direct OpenFlow 1.3 encoding of the two messages on the flow-setup hot path.

A learning switch answers most packet-ins with "flow for eth_dst -> port" plus a packet-out.
Building those through os-ken's message objects costs more than the rest of the work, so the
built-in app encodes them here with ``struct`` (flow-mods cached per destination and port).
The bytes are identical to os-ken's serialisation of the same messages (see the unit tests).
"""

from __future__ import annotations

import struct
from functools import lru_cache

OFP_VERSION = 0x04
OFPT_PACKET_OUT = 13
OFPT_FLOW_MOD = 14
OFPFC_ADD = 0
OFPAT_OUTPUT = 0
OFPIT_APPLY_ACTIONS = 4
OFPCML_NO_BUFFER = 0xFFFF
NO_BUFFER = 0xFFFFFFFF
OFPP_ANY = 0xFFFFFFFF
OFPP_CONTROLLER = 0xFFFFFFFD
OFPG_ANY = 0xFFFFFFFF
OXM_ETH_DST = 0x80000606  # class OPENFLOW_BASIC, field ETH_DST, length 6

_HEADER = struct.Struct("!BBHI")
_ACTION_OUTPUT = struct.Struct("!HHIH6x")


def _mac(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def output_action(port_no: int, max_len: int = OFPCML_NO_BUFFER) -> bytes:
    """An OFPAT_OUTPUT action."""
    return _ACTION_OUTPUT.pack(OFPAT_OUTPUT, 16, port_no, max_len)


@lru_cache(maxsize=65536)
def _flow_mod_body(
    table_id: int, priority: int, eth_dst: str, out_port: int, idle_timeout: int, cookie: int
) -> bytes:
    match = struct.pack("!HHI6s", 1, 4 + 10, OXM_ETH_DST, _mac(eth_dst)) + b"\0" * 2  # pad to 8
    instruction = struct.pack("!HH4x", OFPIT_APPLY_ACTIONS, 8 + 16) + output_action(out_port)
    fixed = struct.pack(
        "!QQBBHHHIIIH2x",
        cookie,
        0,
        table_id,
        OFPFC_ADD,
        idle_timeout,
        0,
        priority,
        NO_BUFFER,
        OFPP_ANY,
        OFPG_ANY,
        0,
    )
    return fixed + match + instruction


def flow_mod_to_port(
    xid: int,
    table_id: int,
    priority: int,
    eth_dst: str,
    out_port: int,
    idle_timeout: int = 0,
    cookie: int = 0,
) -> bytes:
    """FLOW_MOD add: ``eth_dst`` -> apply output ``out_port``."""
    body = _flow_mod_body(table_id, priority, eth_dst, out_port, idle_timeout, cookie)
    return _HEADER.pack(OFP_VERSION, OFPT_FLOW_MOD, 8 + len(body), xid) + body


def packet_out(xid: int, in_port: int, out_port: int, data: bytes) -> bytes:
    """PACKET_OUT of ``data`` (unbuffered) through output ``out_port``."""
    action = output_action(out_port)
    fixed = struct.pack("!IIH6x", NO_BUFFER, in_port, len(action))
    return (
        _HEADER.pack(OFP_VERSION, OFPT_PACKET_OUT, 8 + len(fixed) + len(action) + len(data), xid)
        + fixed
        + action
        + data
    )
