"""An asyncio fake OpenFlow 1.3 switch, for load tests (cbench-style) and robustness tests.

``FakeSwitch(dpid)`` connects to a controller, answers the handshake (hello, features, port
description, echo, barrier) and counts what the controller sends back: flow-mods and
packet-outs. ``packet_in(...)`` sends a packet-in carrying an Ethernet frame. Message bytes are
built by small pure functions (``ofp_header``, ``features_reply``, ``packet_in_msg``...).

Two events tell how far the handshake got. ``ready``: the switch wrote its port description,
the last message of the handshake. ``main``: the controller has taken that reply in and moved
the switch to its main phase. The switch knows by sending an echo request right after its port
description: os-ken reads a connection on one thread and runs its own handshake handlers there,
in order, so it answers the echo only after the port description moved the switch on.

A packet-in written after ``ready`` already reaches the apps' ``MAIN_DISPATCHER`` handlers (same
stream, same thread); ``main`` adds that the controller finished the handshake rather than
dropping the switch. What an app does about a new switch (a table-miss flow, the builtin app's
discovery grace period) runs on the app's own thread, later: a test that depends on it waits
for what the app sends (``until``), never a fixed time.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field

OFP_VERSION = 0x04
OFPT_HELLO, OFPT_ERROR, OFPT_ECHO_REQUEST, OFPT_ECHO_REPLY = 0, 1, 2, 3
OFPT_FEATURES_REQUEST, OFPT_FEATURES_REPLY = 5, 6
OFPT_GET_CONFIG_REQUEST, OFPT_GET_CONFIG_REPLY, OFPT_SET_CONFIG = 7, 8, 9
OFPT_PACKET_IN, OFPT_PACKET_OUT, OFPT_FLOW_MOD, OFPT_GROUP_MOD = 10, 13, 14, 15
OFPT_MULTIPART_REQUEST, OFPT_MULTIPART_REPLY = 18, 19
OFPT_BARRIER_REQUEST, OFPT_BARRIER_REPLY = 20, 21
OFPMP_DESC, OFPMP_FLOW, OFPMP_PORT_DESC = 0, 1, 13
HEADER = struct.Struct("!BBHI")


def ofp_header(msg_type: int, length: int, xid: int, version: int = OFP_VERSION) -> bytes:
    """The 8-byte OpenFlow header."""
    return HEADER.pack(version, msg_type, length, xid)


def message(msg_type: int, body: bytes, xid: int, version: int = OFP_VERSION) -> bytes:
    """A complete message: header plus ``body``."""
    return ofp_header(msg_type, 8 + len(body), xid, version) + body


def hello(xid: int = 1, version: int = OFP_VERSION) -> bytes:
    """A HELLO with a version bitmap element announcing ``version``."""
    bitmap = struct.pack("!HHI", 1, 8, 1 << version)
    return message(OFPT_HELLO, bitmap, xid, version)


def features_reply(xid: int, dpid: int, n_tables: int = 254) -> bytes:
    """FEATURES_REPLY for ``dpid``."""
    return message(OFPT_FEATURES_REPLY, struct.pack("!QIBB2xII", dpid, 256, n_tables, 0, 0x4F, 0), xid)


def port_desc_reply(xid: int, dpid: int, n_ports: int) -> bytes:
    """MULTIPART_REPLY (PORT_DESC) listing ports 1..n_ports, all up."""
    ports = b""
    for port_no in range(1, n_ports + 1):
        hw_addr = struct.pack("!HI", 0x0200 | (dpid & 0xFF), (dpid << 8 | port_no) & 0xFFFFFFFF)
        name = f"fk{dpid}p{port_no}".encode()[:15].ljust(16, b"\0")
        ports += struct.pack("!I4x6s2x16sIIIIIIII", port_no, hw_addr, name, 0, 4, 0, 0, 0, 0, 10000000, 0)
    return message(OFPT_MULTIPART_REPLY, struct.pack("!HH4x", OFPMP_PORT_DESC, 0) + ports, xid)


def desc_reply(xid: int) -> bytes:
    """MULTIPART_REPLY (DESC) for a fake switch."""
    fields = [
        b"sdnlab".ljust(256, b"\0"),
        b"fake switch".ljust(256, b"\0"),
        b"1".ljust(256, b"\0"),
        b"0".ljust(32, b"\0"),
        b"fake".ljust(256, b"\0"),
    ]
    return message(OFPT_MULTIPART_REPLY, struct.pack("!HH4x", OFPMP_DESC, 0) + b"".join(fields), xid)


def flow_stats_reply(xid: int) -> bytes:
    """MULTIPART_REPLY (FLOW) with one table-miss flow (priority 0, no match, no instructions)."""
    match = struct.pack("!HH", 1, 4) + b"\0" * 4  # an empty OXM match padded to 8 bytes
    entry = struct.pack("!HBxIIHHHH4xQQQ", 48 + len(match), 0, 1, 0, 0, 0, 0, 0, 0, 0, 0) + match
    return message(OFPT_MULTIPART_REPLY, struct.pack("!HH4x", OFPMP_FLOW, 0) + entry, xid)


def mac_bytes(index: int) -> bytes:
    """A locally administered unicast MAC for host ``index``."""
    return bytes([0x02, 0x00]) + index.to_bytes(4, "big")


def ethernet_frame(dst: bytes, src: bytes, eth_type: int = 0x0800, size: int = 64) -> bytes:
    """An Ethernet frame padded to ``size`` bytes."""
    return (dst + src + struct.pack("!H", eth_type)).ljust(size, b"\0")


def packet_in_msg(xid: int, in_port: int, frame: bytes, buffer_id: int = 0xFFFFFFFF) -> bytes:
    """PACKET_IN (reason no-match, table 0) with an OXM in_port match."""
    oxm = struct.pack("!II", 0x80000004, in_port)  # OXM_OF_IN_PORT
    match = struct.pack("!HH", 1, 4 + len(oxm)) + oxm
    match += b"\0" * ((8 - len(match) % 8) % 8)
    body = struct.pack("!IHBBQ", buffer_id, len(frame), 0, 0, 0) + match + b"\0\0" + frame
    return message(OFPT_PACKET_IN, body, xid)


async def until(condition: Callable[[], bool], timeout: float, every: float = 0.02) -> bool:
    """Poll ``condition`` every ``every`` s until it holds (True) or ``timeout`` s passed (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every)
    return True


@dataclass
class Counters:
    """What the controller sent to one fake switch."""

    flow_mods: int = 0
    packet_outs: int = 0
    errors: int = 0
    other: int = 0
    flow_mod_times: list[float] = field(default_factory=list)


class FakeSwitch:
    """One fake OpenFlow 1.3 switch connection.

    ``record_messages=True`` keeps every message the controller sends as ``(type, body)`` in
    ``messages``, for tests that look into them (off for load tests).
    """

    def __init__(
        self, dpid: int, n_ports: int = 4, record_times: bool = False, record_messages: bool = False
    ) -> None:
        self.dpid = dpid
        self.n_ports = n_ports
        self.counters = Counters()
        self.record_times = record_times
        self.record_messages = record_messages
        self.messages: list[tuple[int, bytes]] = []
        self.ready = asyncio.Event()  # the switch sent the last message of its handshake
        self.main = asyncio.Event()  # the controller has the switch in its main phase
        self._main_echo_xid: int | None = None
        self.closed = asyncio.Event()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._xid = 1000
        self._task: asyncio.Task | None = None
        self.response_event = asyncio.Event()

    async def connect(self, host: str, port: int) -> None:
        """Connect and start answering the controller."""
        self._reader, self._writer = await asyncio.open_connection(host, port)
        self._writer.write(hello())
        self._task = asyncio.create_task(self._serve())

    @property
    def writer(self) -> asyncio.StreamWriter:
        if self._writer is None:
            raise ConnectionError(f"fake switch {self.dpid:x} is not connected")
        return self._writer

    @property
    def reader(self) -> asyncio.StreamReader:
        if self._reader is None:
            raise ConnectionError(f"fake switch {self.dpid:x} is not connected")
        return self._reader

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def drain(self) -> None:
        await self.writer.drain()

    def next_xid(self) -> int:
        self._xid = (self._xid + 1) & 0xFFFFFFFF
        return self._xid

    def packet_in(self, in_port: int, frame: bytes) -> None:
        """Queue a packet-in (call ``drain`` to flush)."""
        self.writer.write(packet_in_msg(self.next_xid(), in_port, frame))

    async def _serve(self) -> None:
        try:
            while True:
                header = await self.reader.readexactly(8)
                _version, msg_type, length, xid = HEADER.unpack(header)
                body = await self.reader.readexactly(max(length - 8, 0))
                self._handle(msg_type, xid, body)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed.set()

    def _handle(self, msg_type: int, xid: int, body: bytes) -> None:
        write = self.writer.write
        if self.record_messages:
            self.messages.append((msg_type, body))
        if msg_type == OFPT_FLOW_MOD:
            self.counters.flow_mods += 1
            if self.record_times:
                self.counters.flow_mod_times.append(time.perf_counter())
            self.response_event.set()
        elif msg_type == OFPT_PACKET_OUT:
            self.counters.packet_outs += 1
        elif msg_type == OFPT_FEATURES_REQUEST:
            write(features_reply(xid, self.dpid))
        elif msg_type == OFPT_MULTIPART_REQUEST:
            (kind,) = struct.unpack_from("!H", body, 0)
            if kind == OFPMP_PORT_DESC:
                write(port_desc_reply(xid, self.dpid, self.n_ports))
                self.ready.set()
                self._main_echo_xid = self.next_xid()  # answered once the controller is in its main phase
                write(message(OFPT_ECHO_REQUEST, b"", self._main_echo_xid))
            elif kind == OFPMP_DESC:
                write(desc_reply(xid))
            elif kind == OFPMP_FLOW:
                write(flow_stats_reply(xid))
        elif msg_type == OFPT_ECHO_REQUEST:
            write(message(OFPT_ECHO_REPLY, body, xid))
        elif msg_type == OFPT_ECHO_REPLY:
            if xid == self._main_echo_xid:
                self.main.set()
        elif msg_type == OFPT_BARRIER_REQUEST:
            write(message(OFPT_BARRIER_REPLY, b"", xid))
        elif msg_type == OFPT_GET_CONFIG_REQUEST:
            write(message(OFPT_GET_CONFIG_REPLY, struct.pack("!HH", 0, 0xFFFF), xid))
        elif msg_type == OFPT_ERROR:
            self.counters.errors += 1
        elif msg_type != OFPT_HELLO:
            self.counters.other += 1

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        if self._task is not None:
            self._task.cancel()


class FakeSwitchesThread:
    """Fake switches connected from a background thread (for tests and benchmarks of the REST API).

    ``FakeSwitchesThread([1, 2]).start("127.0.0.1", 6653)`` returns once the controller has every
    switch in its main phase (``FakeSwitch.main``); ``stop()`` closes them and ends the thread.
    """

    def __init__(self, dpids: list[int], n_ports: int = 4) -> None:
        import threading

        self.switches = [FakeSwitch(dpid, n_ports) for dpid in dpids]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-switches", daemon=True)

    def start(self, host: str, port: int, timeout: float = 10.0) -> FakeSwitchesThread:
        """Connect every switch and wait until the controller has it in its main phase."""
        self._thread.start()

        async def connect_all() -> None:
            for switch in self.switches:
                await switch.connect(host, port)
            await asyncio.wait_for(asyncio.gather(*(s.main.wait() for s in self.switches)), timeout)

        asyncio.run_coroutine_threadsafe(connect_all(), self._loop).result(timeout + 1)
        return self

    def stop(self) -> None:
        """Close the switches and stop the thread."""

        async def close_all() -> None:
            for switch in self.switches:
                await switch.close()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
