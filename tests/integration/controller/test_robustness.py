"""A switch that sends garbage is dropped with one log line; the other switches keep being served.

Uses the asyncio fake switch against a real controller process on localhost (no root needed).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import struct

import pytest

from sdnlab.controller import fakeswitch as fk
from sdnlab.controller.process import ControllerProcess

OF_PORT = 6740
_macs = itertools.count(0x500)


@pytest.fixture(scope="module")
def controller():
    with ControllerProcess(["sdnlab.controller.apps.builtin"], OF_PORT, 8140) as ctl:
        yield ctl


async def _good_switch_still_served(dpid: int) -> bool:
    """True if a new switch gets the flow towards a new host it reports in a packet-in.

    The builtin app ignores packet-ins for its discovery grace period (``fabric.DISCOVERY_GRACE_S``),
    counted from when its own thread takes the switch in: the packet-in is sent again every 0.5 s
    until the host's flow (a flow-mod matching its MAC) arrives, for up to 10 s.
    """
    good = fk.FakeSwitch(dpid, record_messages=True)
    await good.connect("127.0.0.1", OF_PORT)
    await asyncio.wait_for(good.main.wait(), 10)
    host = fk.mac_bytes(next(_macs))
    frame = fk.ethernet_frame(fk.mac_bytes(next(_macs)), host)

    def flow_to_host() -> bool:
        return any(kind == fk.OFPT_FLOW_MOD and host in body for kind, body in good.messages)

    for _ in range(20):
        good.packet_in(1, frame)
        await good.drain()
        if await fk.until(flow_to_host, 0.5):
            break
    await good.close()
    return flow_to_host()


async def _misbehave(payload: bytes, after_handshake: bool) -> bool:
    """Send ``payload`` (before or after the handshake); True if the controller closed the connection."""
    bad = fk.FakeSwitch(0xBAD)
    await bad.connect("127.0.0.1", OF_PORT)
    if after_handshake:
        await asyncio.wait_for(bad.ready.wait(), 5)
    bad.send(payload)
    await bad.drain()
    try:
        await asyncio.wait_for(bad.closed.wait(), 5)
        return True
    except TimeoutError:
        return False
    finally:
        await bad.close()


CASES = {
    "http request instead of hello": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", False),
    "random bytes": (b"\x7f" + random.Random(2026).randbytes(63), True),  # 0x7f: no OpenFlow version
    "OpenFlow 1.2 header announcing a long body after 1.3 was negotiated": (
        fk.ofp_header(fk.OFPT_PACKET_IN, 28042, 8, version=3) + b"\x5a" * 56,
        True,
    ),
    "truncated packet-in": (fk.ofp_header(fk.OFPT_PACKET_IN, 20, 5) + b"\x01" * 12, True),
    "oversized length": (fk.ofp_header(fk.OFPT_PACKET_IN, 0xFFFF, 6) + b"\xee" * (0xFFFF - 8), True),
    "OpenFlow 1.0 message after 1.3 was negotiated": (
        fk.message(fk.OFPT_ECHO_REQUEST, b"", 7, version=1),
        True,
    ),
    "hello offering only OpenFlow 1.0": (fk.message(fk.OFPT_HELLO, b"", 1, version=1), False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_misbehaving_switch_is_dropped_and_others_are_served(controller, case):
    payload, after_handshake = CASES[case]
    assert asyncio.run(_misbehave(payload, after_handshake)), f"{case}: connection left open"
    assert asyncio.run(_good_switch_still_served(0x600 + sorted(CASES).index(case))), (
        f"{case}: others not served"
    )
    log = controller.output()
    assert "Traceback" not in log, log
    assert controller.proc.poll() is None


def test_each_drop_is_one_log_line_naming_the_reason(controller):
    assert asyncio.run(_misbehave(fk.ofp_header(fk.OFPT_PACKET_IN, 20, 9) + b"\x02" * 12, True))
    lines = [
        line for line in controller.output().splitlines() if "cannot parse message type 10 (20 bytes)" in line
    ]
    assert lines and all(line.startswith("dropped ") for line in lines)


def test_hello_header_helpers_build_valid_lengths():
    assert struct.unpack("!BBHI", fk.hello()[:8])[2] == len(fk.hello())


async def _packet_ins_answered(port: int, count: int) -> int:
    """Flow-mods answering ``count`` packet-ins sent once the switch is in the main phase (10 s for half)."""
    switch = fk.FakeSwitch(0x777)
    await switch.connect("127.0.0.1", port)
    await asyncio.wait_for(switch.main.wait(), 10)
    for index in range(count):
        switch.packet_in(1, fk.ethernet_frame(fk.mac_bytes(index + 1), fk.mac_bytes(index + 100)))
    await switch.drain()
    await fk.until(lambda: switch.counters.flow_mods >= count // 2, 10)
    await switch.close()
    return switch.counters.flow_mods


def test_an_app_whose_handler_raises_keeps_running():
    flaky = os.path.join(os.path.dirname(__file__), "corpus", "flaky_app.py")
    with ControllerProcess([flaky], OF_PORT + 1) as ctl:
        assert asyncio.run(_packet_ins_answered(OF_PORT + 1, 6)) == 3
        assert "handler packet_in failed on EventOFPPacketIn; the app keeps running" in ctl.output()
