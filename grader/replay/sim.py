"""Simulated OpenFlow 1.3 switches and hosts that talk to a real controller over TCP.

``SimNetwork(topology)`` builds one ``SimSwitch`` per topology switch and one ``SimHost`` per
host. Each switch opens a real TCP connection to the controller, answers the handshake
(hello, features, port description, echo, barrier, config) with real OpenFlow bytes, keeps a
flow table from the FLOW_MODs it receives, and forwards frames with the grader's OpenFlow 1.3
pipeline model (``sdnlab.grader.pipeline``) on concrete headers: table misses and
``output:CONTROLLER`` become PACKET_INs, PACKET_OUTs are executed, emitted frames follow the
topology's links to the next switch or host. Hosts answer ARP and ICMP echo like a kernel.

Everything runs on one asyncio loop, so the order of events is the order of the conversation.
``settle()`` is how a scenario step knows the app is done, by events, not by a quiet period.
What a switch tells the controller unasked (PACKET_IN, PORT_STATUS) waits in an outbox and goes
out one message at a time; after each, the switches that sent something send a sync echo, which
the runner answers on every connection only once every app has handled all queued before it
(``sdnlab.grader.replay.sync``). So the app sees the same messages in the same order in every
run, and a PACKET_IN still without a PACKET_OUT carrying its frame then got none.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sdnlab.grader.fields import ALL_BITS, FIELDS, OFPP_CONTROLLER, OFPP_TABLE
from sdnlab.grader.headerspace import Space
from sdnlab.grader.model import Output, Port, SwitchState
from sdnlab.grader.ofctl_text import parse_flow_line
from sdnlab.grader.pipeline import Drop, Emit, Fork, SwitchPipeline, ToController
from sdnlab.grader.replay.errors import ReplayError
from sdnlab.grader.replay.pcapng import TO_CONTROLLER, TO_SWITCH, OFRecord, split_messages
from sdnlab.grader.replay.show import parse
from sdnlab.grader.replay.sync import SYNC_DATA, SYNC_DONE

OFP_VERSION = 0x04
OFP_NO_BUFFER = 0xFFFFFFFF
OFPT = {
    "HELLO": 0,
    "ERROR": 1,
    "ECHO_REQUEST": 2,
    "ECHO_REPLY": 3,
    "FEATURES_REQUEST": 5,
    "FEATURES_REPLY": 6,
    "GET_CONFIG_REQUEST": 7,
    "GET_CONFIG_REPLY": 8,
    "SET_CONFIG": 9,
    "PACKET_IN": 10,
    "PORT_STATUS": 12,
    "PACKET_OUT": 13,
    "FLOW_MOD": 14,
    "GROUP_MOD": 15,
    "PORT_MOD": 16,
    "MULTIPART_REQUEST": 18,
    "MULTIPART_REPLY": 19,
    "BARRIER_REQUEST": 20,
    "BARRIER_REPLY": 21,
}
SYNC_TIMEOUT_S = 3.0  # a sync not answered by then: a handler hangs (replay's runner reports one at 2 s)
STALLED_SYNC_TIMEOUT_S = 0.5  # each later sync once one timed out (the app is stuck; do not wait long)
CONNECT_TIMEOUT_S = 60.0  # for the controller to listen (it may still be loading the app)
HOUSEKEEPING = (2, 3)  # ECHO_REQUEST, ECHO_REPLY: liveness, not part of a step
MAX_HOPS = 64  # frames that cross more switches than this are a loop
OFPPC_NO_RECV = 1 << 2  # port config bits a PORT_MOD sets (stplib blocks ports with them)
OFPPC_NO_FWD = 1 << 5
IDLE_POLL_S = 0.02  # during a sleep step: how often the network looks for what the app sent


def _msg(msg_type: int, body: bytes, xid: int) -> bytes:
    return struct.pack("!BBHI", OFP_VERSION, msg_type, 8 + len(body), xid) + body


def _mac_bytes(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def _mac_int(text: str) -> int:
    return int(text.replace(":", ""), 16)


def _ip_int(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def is_link_control(frame: bytes) -> bool:
    """A link-local control frame (to 01:80:c2:00:00:0X: STP BPDUs, LLDP), not host traffic."""
    return frame[:5] == b"\x01\x80\xc2\x00\x00" and frame[5] <= 0x0F


# ---------------------------------------------------------------------------------- frames


def frame_vector(frame: bytes) -> int:
    """The grader's header bit vector of an Ethernet frame (fields not present are zero)."""
    from os_ken.lib.packet import arp, ethernet, icmp, ipv4, packet, tcp, udp

    pkt = packet.Packet(frame)
    eth = pkt.get_protocol(ethernet.ethernet)
    values: dict[str, int] = {}
    if eth is not None:
        values.update(eth_dst=_mac_int(eth.dst), eth_src=_mac_int(eth.src), eth_type=eth.ethertype)
    a = pkt.get_protocol(arp.arp)
    if a is not None:
        values.update(
            ip_proto=a.opcode,
            ipv4_src=_ip_int(a.src_ip),
            ipv4_dst=_ip_int(a.dst_ip),
            arp_sha=_mac_int(a.src_mac),
            arp_tha=_mac_int(a.dst_mac),
        )
    ip = pkt.get_protocol(ipv4.ipv4)
    if ip is not None:
        values.update(
            ip_proto=ip.proto,
            ipv4_src=_ip_int(ip.src),
            ipv4_dst=_ip_int(ip.dst),
            ip_ttl=ip.ttl,
            ip_dscp=ip.tos >> 2,
        )
        ic = pkt.get_protocol(icmp.icmp)
        if ic is not None:
            values.update(tp_src=ic.type, tp_dst=ic.code)
        for proto in (tcp.tcp, udp.udp):
            seg = pkt.get_protocol(proto)
            if seg is not None:
                values.update(tp_src=seg.src_port, tp_dst=seg.dst_port)
    vector = 0
    for name, value in values.items():
        f = FIELDS[name]
        vector |= f.put(value & f.full)
    return vector


def rewrite_frame(frame: bytes, before: int, after: int) -> bytes:
    """Apply Ethernet address rewrites (set_field eth_src/eth_dst) the pipeline made to the header."""
    out = bytearray(frame)
    for name, offset in (("eth_dst", 0), ("eth_src", 6)):
        f = FIELDS[name]
        if f.get(before) != f.get(after):
            out[offset : offset + 6] = f.get(after).to_bytes(6, "big")
    return bytes(out)


def arp_frame(op: int, src_mac: str, src_ip: str, dst_mac: str, dst_ip: str) -> bytes:
    """An ARP request (op 1, broadcast) or reply (op 2)."""
    from os_ken.lib.packet import arp, ethernet, packet

    pkt = packet.Packet()
    eth_dst = "ff:ff:ff:ff:ff:ff" if op == 1 else dst_mac
    pkt.add_protocol(ethernet.ethernet(dst=eth_dst, src=src_mac, ethertype=0x0806))
    tha = "00:00:00:00:00:00" if op == 1 else dst_mac
    pkt.add_protocol(arp.arp(opcode=op, src_mac=src_mac, src_ip=src_ip, dst_mac=tha, dst_ip=dst_ip))
    pkt.serialize()
    return bytes(pkt.data)


def icmp_frame(
    kind: int, src_mac: str, src_ip: str, dst_mac: str, dst_ip: str, ident: int, seq: int
) -> bytes:
    """An ICMP echo request (kind 8) or reply (kind 0)."""
    from os_ken.lib.packet import ethernet, icmp, ipv4, packet

    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=dst_mac, src=src_mac, ethertype=0x0800))
    pkt.add_protocol(ipv4.ipv4(src=src_ip, dst=dst_ip, proto=1, ttl=64))
    pkt.add_protocol(icmp.icmp(type_=kind, code=0, data=icmp.echo(id_=ident, seq=seq, data=b"sdnlab-replay")))
    pkt.serialize()
    return bytes(pkt.data)


# ---------------------------------------------------------------------------------- flows


def _value_text(name: str, value: Any) -> str:
    if isinstance(value, tuple):
        return f"{value[0]}/{value[1]}"
    return str(value)


def flow_mod_text(msg: Any) -> str:
    """An ``ovs-ofctl`` flow line for a parsed FLOW_MOD (what the grader's parser reads)."""
    fields = [f"{k}={_value_text(k, v)}" for k, v in msg.match.items()]
    actions = []
    for inst in msg.instructions:
        kind = type(inst).__name__
        if kind == "OFPInstructionActions":
            text = ",".join(_action_text(a) for a in inst.actions)
            if inst.type == 4:  # OFPIT_APPLY_ACTIONS
                actions.append(text)
            elif inst.type == 3:
                actions.append(f"write_actions({text})")
            else:
                actions.append("clear_actions")
        elif kind == "OFPInstructionGotoTable":
            actions.append(f"goto_table:{inst.table_id}")
        elif kind == "OFPInstructionWriteMetadata":
            actions.append(f"write_metadata:{hex(inst.metadata)}/{hex(inst.metadata_mask)}")
        elif kind == "OFPInstructionMeter":
            actions.insert(0, f"meter:{inst.meter_id}")
    head = f"cookie={hex(msg.cookie)}, table={msg.table_id}, priority={msg.priority}"
    match = ("," + ",".join(fields)) if fields else ""
    return f"{head}{match} actions={','.join(a for a in actions if a) or 'drop'}"


def _action_text(action: Any) -> str:
    kind = type(action).__name__.replace("OFPAction", "")
    if kind == "Output":
        port = action.port
        special = {0xFFFFFFFB: "FLOOD", 0xFFFFFFFC: "ALL", 0xFFFFFFF8: "IN_PORT", 0xFFFFFFF9: "TABLE"}
        if port == OFPP_CONTROLLER:
            return f"CONTROLLER:{action.max_len}"
        return special.get(port, f"output:{port}")
    if kind == "SetField":
        return f"set_field:{_value_text(action.key, action.value)}->{action.key}"
    if kind == "Group":
        return f"group:{action.group_id}"
    if kind == "PushVlan":
        return f"push_vlan:{hex(action.ethertype)}"
    if kind == "PopVlan":
        return "pop_vlan"
    if kind == "DecNwTtl":
        return "dec_ttl"
    raise ReplayError(f"action {kind} is not supported by replay yet")


@dataclass
class TableEntry:
    """A flow as the app installed it: the OpenFlow message fields and the grader's model Flow."""

    priority: int
    match_items: tuple[tuple[str, Any], ...]
    flow: Any
    installed_at: float


# ---------------------------------------------------------------------------------- switches


@dataclass
class PacketIn:
    """A packet-in the switch sent and whether the app answered it."""

    switch: str
    frame: bytes
    answered: bool = False


class SimSwitch:
    """One simulated switch connection to the controller."""

    def __init__(self, net: SimNetwork, name: str, dpid: int, ports: dict[int, str]) -> None:
        self.net = net
        self.name = name
        self.dpid = dpid
        self.ports = ports  # port_no -> interface name
        self.live = set(ports)
        self.config: dict[int, int] = {}  # port_no -> OFPPC_* bits the app set by PORT_MOD
        self.entries: list[TableEntry] = []
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.address: tuple[str, int] = ("127.0.0.1", 0)
        self.ready = asyncio.Event()
        self.answered: dict[bytes, int] = {}  # sync token -> requests the runner said it answered
        self._xid = 0
        self._pipeline: SwitchPipeline | None = None
        self._task: asyncio.Task[None] | None = None

    # ---- connection
    async def connect(self, host: str, port: int, alive: Any = None) -> None:
        """Open the TCP connection and start answering the controller.

        Until the controller listens the connection is refused: tried again every few
        milliseconds while ``alive()`` (the controller process still runs) holds, for at most
        ``CONNECT_TIMEOUT_S``.
        """
        self.ready.clear()
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while True:
            try:
                self.reader, self.writer = await asyncio.open_connection(host, port)
                break
            except ConnectionRefusedError:
                if (alive is not None and not alive()) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.005)
        sock = self.writer.get_extra_info("sockname")
        self.address = (sock[0], sock[1])
        self.send(_msg(OFPT["HELLO"], struct.pack("!HHI", 1, 8, 1 << OFP_VERSION), self.next_xid()))
        self._task = asyncio.create_task(self._serve())

    async def disconnect(self) -> None:
        """Close the connection (flows are kept, as a fail-secure switch does)."""
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # the serve task ends with the connection
                pass

    def next_xid(self) -> int:
        self._xid += 1
        return self._xid

    def send(self, data: bytes) -> None:
        """Send one message to the controller and record it; events wait in the network's outbox.

        A PACKET_IN or PORT_STATUS (what the switch tells unasked) goes out when ``settle`` lets
        it: one at a time, each after the app has handled the one before, so the app sees the
        same order in every run. Answers to the controller's requests go at once.
        """
        if data[1] in (OFPT["PACKET_IN"], OFPT["PORT_STATUS"]):
            self.net.outbox.append((self, data))
            return
        self.release(data)

    def release(self, data: bytes) -> None:
        """Write one message to the controller now."""
        assert self.writer is not None
        self.writer.write(data)
        self.net.record(self, TO_CONTROLLER, data)
        if data[1] not in HOUSEKEEPING:
            self.net.sent += 1
            self.net.dirty.add(self.name)

    def send_sync(self, token: bytes) -> None:
        """Send a sync echo (not part of the conversation: not recorded)."""
        assert self.writer is not None
        self.writer.write(_msg(OFPT["ECHO_REQUEST"], SYNC_DATA + token, self.next_xid()))

    async def _serve(self) -> None:
        assert self.reader is not None
        buffer = b""
        try:
            while True:
                chunk = await self.reader.read(65536)
                if not chunk:
                    return
                messages, buffer = split_messages(buffer + chunk)
                for message in messages:
                    if message[1] == OFPT["ECHO_REPLY"] and message[8:].startswith(SYNC_DONE):
                        token, _, count = message[8 + len(SYNC_DONE) :].partition(b"/")
                        self.answered[token] = self.answered.get(token, 0) + int(count or 0)
                        self.net.sync_answered()
                        continue
                    self.net.record(self, TO_SWITCH, message)
                    if message[1] not in HOUSEKEEPING:
                        self.net.received += 1
                    self._handle(message)
        except (ConnectionError, asyncio.IncompleteReadError):
            return

    # ---- handshake and housekeeping
    def _port_desc(self) -> bytes:
        body = b""
        for port_no, name in sorted(self.ports.items()):
            hw = struct.pack("!HI", 0x0200 | (self.dpid & 0xFF), (self.dpid << 8 | port_no) & 0xFFFFFFFF)
            state = 0x4 if port_no in self.live else 0x1
            body += struct.pack(
                "!I4x6s2x16sIIIIIIII",
                port_no,
                hw,
                name.encode()[:15].ljust(16, b"\0"),
                0,
                state,
                0,
                0,
                0,
                0,
                0,
                0,
            )
        return body

    def port_status(self, port_no: int) -> None:
        """Tell the controller that a port changed (link up or down)."""
        desc = [d for d in _chunks(self._port_desc(), 64) if struct.unpack_from("!I", d, 0)[0] == port_no]
        self.send(_msg(OFPT["PORT_STATUS"], struct.pack("!B7x", 2) + desc[0], self.next_xid()))

    def _handle(self, message: bytes) -> None:
        version, msg_type, _, xid = struct.unpack_from("!BBHI", message, 0)
        if msg_type == OFPT["HELLO"]:
            return
        if version != OFP_VERSION:
            raise ReplayError(
                f"the app spoke OpenFlow version 0x{version:02x}; replay simulates 1.3 switches"
            )
        body = message[8:]
        if msg_type == OFPT["FEATURES_REQUEST"]:
            self.send(
                _msg(OFPT["FEATURES_REPLY"], struct.pack("!QIBB2xII", self.dpid, 0, 254, 0, 0x4F, 0), xid)
            )
        elif msg_type == OFPT["MULTIPART_REQUEST"]:
            (kind,) = struct.unpack_from("!H", body, 0)
            if kind == 13:  # PORT_DESC
                reply = struct.pack("!HH4x", 13, 0) + self._port_desc()
                self.ready.set()
            elif kind == 0:  # DESC
                reply = struct.pack("!HH4x", 0, 0) + b"sdnlab".ljust(256, b"\0") + b"replay".ljust(256, b"\0")
                reply += b"sim".ljust(256, b"\0") + b"0".ljust(32, b"\0") + b"sim".ljust(256, b"\0")
            else:
                reply = struct.pack("!HH4x", kind, 0)
            self.send(_msg(OFPT["MULTIPART_REPLY"], reply, xid))
        elif msg_type == OFPT["ECHO_REQUEST"]:
            self.send(_msg(OFPT["ECHO_REPLY"], body, xid))
        elif msg_type == OFPT["BARRIER_REQUEST"]:
            self.send(_msg(OFPT["BARRIER_REPLY"], b"", xid))
        elif msg_type == OFPT["GET_CONFIG_REQUEST"]:
            self.send(_msg(OFPT["GET_CONFIG_REPLY"], struct.pack("!HH", 0, 0xFFFF), xid))
        elif msg_type == OFPT["FLOW_MOD"]:
            self._flow_mod(message)
        elif msg_type == OFPT["PACKET_OUT"]:
            self._packet_out(message)
        elif msg_type == OFPT["GROUP_MOD"]:
            self.net.unsupported.append(f"{self.name}: GROUP_MOD (groups are not simulated yet)")
        elif msg_type == OFPT["PORT_MOD"]:
            self._port_mod(body)

    def _port_mod(self, body: bytes) -> None:
        """Set the port's config bits under the mask (NO_RECV, NO_FWD are honoured when forwarding)."""
        port_no, _, config, mask = struct.unpack_from("!I4x6s2xII", body, 0)
        if port_no not in self.ports:
            return
        self.config[port_no] = (self.config.get(port_no, 0) & ~mask) | (config & mask)
        self._pipeline = None

    def forwarding(self) -> frozenset[int]:
        """The ports a frame may leave by: up, and not set to NO_FWD."""
        return frozenset(p for p in self.live if not self.config.get(p, 0) & OFPPC_NO_FWD)

    # ---- flow table
    def _flow_mod(self, message: bytes) -> None:
        msg = parse(OFRecord(time.time(), self.address, TO_SWITCH, message, self.dpid))
        items = tuple(sorted(msg.match.items()))
        if msg.command == 0:  # add: replaces a flow with the same priority and match
            self.entries = [
                e for e in self.entries if not (e.priority == msg.priority and e.match_items == items)
            ]
            flow = parse_flow_line(flow_mod_text(msg), self.name, len(self.entries) + 1)
            self.entries.append(TableEntry(msg.priority, items, flow, time.monotonic()))
        elif msg.command in (1, 2):  # modify: new instructions for the matching flows (none added)
            matching = self._matching(msg, items, strict=msg.command == 2)
            for index, entry in enumerate(self.entries):
                if entry in matching:
                    flow = parse_flow_line(flow_mod_text(msg), self.name, index + 1)
                    flow = type(flow)(
                        **{**flow.__dict__, "priority": entry.priority, "match": entry.flow.match}
                    )
                    self.entries[index] = TableEntry(
                        entry.priority, entry.match_items, flow, entry.installed_at
                    )
        else:  # delete, delete_strict
            doomed = self._matching(msg, items, strict=msg.command == 4)
            doomed = [e for e in doomed if _outputs_to(e.flow, msg.out_port)]
            self.entries = [e for e in self.entries if e not in doomed]
        self._pipeline = None
        if msg.buffer_id != OFP_NO_BUFFER:
            self.net.unsupported.append(
                f"{self.name}: FLOW_MOD with a buffer_id (switches here send no buffers)"
            )

    def _matching(self, msg: Any, items: tuple[tuple[str, Any], ...], strict: bool) -> list[TableEntry]:
        if strict:
            return [e for e in self.entries if e.priority == msg.priority and e.match_items == items]
        wanted = dict(items)
        return [e for e in self.entries if all(dict(e.match_items).get(k) == v for k, v in wanted.items())]

    def state(self) -> SwitchState:
        """The flow table as the grader's model."""
        flows = tuple(e.flow for e in self.entries)
        ports = {p: Port(p, name, p in self.live) for p, name in self.ports.items()}
        return SwitchState(self.name, flows, {}, ports, self.dpid)

    def pipeline(self) -> SwitchPipeline:
        if self._pipeline is None:
            self._pipeline = SwitchPipeline(self.state(), ports=sorted(self.forwarding()))
        return self._pipeline

    # ---- forwarding
    def receive(self, port_no: int, frame: bytes, hops: int) -> None:
        """A frame arrives on ``port_no``: run it through the flow table."""
        if port_no not in self.live or self.config.get(port_no, 0) & OFPPC_NO_RECV:
            return
        vector = frame_vector(frame)
        space = Space.of(vector, ALL_BITS)
        self._follow(self.pipeline().run(space, port_no, self.forwarding()), frame, vector, port_no, hops)

    def _follow(self, tree: Any, frame: bytes, vector: int, in_port: int, hops: int) -> None:
        if tree is None:
            return
        if isinstance(tree, Fork):
            children = tree.children[:1] if tree.kind == "choice" else tree.children
            for child in children:
                self._follow(child, frame, vector, in_port, hops)
        elif isinstance(tree, Emit):
            out = rewrite_frame(frame, vector, tree.space.current[0])
            self.net.emit(self, tree.port, out, hops)
        elif isinstance(tree, ToController):
            flow = tree.steps[-1].flow if tree.steps else None
            table_miss = flow is not None and flow.priority == 0 and not flow.match.fields
            out = rewrite_frame(frame, vector, tree.space.current[0])
            self.packet_in(in_port, out, reason=0 if table_miss else 1, table_id=flow.table_id if flow else 0)
        elif isinstance(tree, Drop):
            self.net.drops += 1

    def packet_in(self, in_port: int, frame: bytes, reason: int, table_id: int) -> None:
        """Send a PACKET_IN carrying the whole frame (no buffering)."""
        oxm = struct.pack("!HBBI", 0x8000, 0, 4, in_port)  # OXM in_port
        match = struct.pack("!HH", 1, 4 + len(oxm)) + oxm
        match += b"\0" * (-len(match) % 8)
        body = struct.pack("!IHBBQ", OFP_NO_BUFFER, len(frame), reason, table_id, 0) + match + b"\0\0" + frame
        self.send(_msg(OFPT["PACKET_IN"], body, self.next_xid()))

    def _packet_out(self, message: bytes) -> None:
        msg = parse(OFRecord(time.time(), self.address, TO_SWITCH, message, self.dpid))
        frame = bytes(msg.data)
        for pending in self.net.pending:
            if pending.switch == self.name and pending.frame == frame and not pending.answered:
                pending.answered = True
                break
        if not frame:
            self.net.unsupported.append(
                f"{self.name}: PACKET_OUT of a buffer (switches here send no buffers)"
            )
            return
        actions = parse_flow_line("actions=" + ",".join(_action_text(a) for a in msg.actions), self.name, 0)
        in_port = msg.in_port if msg.in_port in self.ports else None
        vector = frame_vector(frame)
        space = Space.of(vector | FIELDS["in_port"].put((in_port or OFPP_CONTROLLER) & 0xFFFFFFFF), ALL_BITS)
        if any(isinstance(a, Output) and a.port == OFPP_TABLE for a in actions.apply_actions):
            if in_port is not None:
                self.receive(in_port, frame, 0)
            return
        tree = self.pipeline().run_actions(
            actions.apply_actions, space, (), self.forwarding(), 0, lambda s: None
        )
        self._follow(tree, frame, vector, in_port or OFPP_CONTROLLER, 0)


def _outputs_to(flow: Any, port: int) -> bool:
    if port in (0xFFFFFFFF, None):  # OFPP_ANY
        return True
    return any(isinstance(a, Output) and a.port == port for a in flow.apply_actions + flow.write_actions)


def _packet_in_frame(message: bytes) -> bytes:
    """The frame a PACKET_IN built by ``SimSwitch.packet_in`` carries."""
    (match_len,) = struct.unpack_from("!H", message, 8 + 16 + 2)
    return message[8 + 16 + match_len + (-match_len % 8) + 2 :]


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# ---------------------------------------------------------------------------------- hosts


@dataclass
class SimHost:
    """A host with one interface: answers ARP for its address and ICMP echo requests.

    A host with a ``gateway`` sends what is not for its own subnet to the gateway: it ARPs for
    the gateway's address and puts the gateway's MAC on the frame, as a kernel's default route
    does; a frame for a next hop it has not resolved yet waits for the ARP reply.
    """

    net: SimNetwork
    name: str
    mac: str
    ip: str
    prefixlen: int | None = None
    gateway: str | None = None
    arp_cache: dict[str, str] = field(default_factory=dict)
    received: list[bytes] = field(default_factory=list)
    echo_replies: set[tuple[int, int]] = field(default_factory=set)
    waiting: dict[str, list[Callable[[str], bytes]]] = field(default_factory=dict)

    def next_hop(self, dst_ip: str) -> str:
        """The address to ARP for to reach ``dst_ip``: itself on the host's subnet, else the gateway."""
        if self.gateway is None or self.prefixlen is None:
            return dst_ip
        own = ipaddress.IPv4Network(f"{self.ip}/{self.prefixlen}", strict=False)
        return dst_ip if ipaddress.IPv4Address(dst_ip) in own else self.gateway

    def send(self, frame: bytes) -> None:
        """Put a frame on the wire."""
        self.net.from_host(self, frame)

    def send_via(self, hop: str, build: Callable[[str], bytes]) -> None:
        """Send the frame ``build(next hop's MAC)`` now, or after an ARP request for ``hop`` is answered."""
        if hop in self.arp_cache:
            self.send(build(self.arp_cache[hop]))
            return
        first = hop not in self.waiting
        self.waiting.setdefault(hop, []).append(build)
        if first:
            self.send(arp_frame(1, self.mac, self.ip, "ff:ff:ff:ff:ff:ff", hop))

    def _learn(self, ip: str, mac: str) -> None:
        self.arp_cache[ip] = mac
        for build in self.waiting.pop(ip, []):
            self.send(build(mac))

    def receive(self, frame: bytes) -> None:
        from os_ken.lib.packet import arp, ethernet, icmp, ipv4, packet

        pkt = packet.Packet(frame)
        eth = pkt.get_protocol(ethernet.ethernet)
        if eth is None or eth.dst not in (self.mac, "ff:ff:ff:ff:ff:ff"):
            return
        self.received.append(frame)
        a = pkt.get_protocol(arp.arp)
        if a is not None:
            if a.opcode == 1 and a.dst_ip == self.ip:
                self.send(arp_frame(2, self.mac, self.ip, a.src_mac, a.src_ip))
            if a.dst_ip == self.ip or a.opcode == 2:
                self._learn(a.src_ip, a.src_mac)
            return
        ip = pkt.get_protocol(ipv4.ipv4)
        ic = pkt.get_protocol(icmp.icmp)
        if ip is None or ic is None or ip.dst != self.ip:
            return
        if ic.type == 8:
            ident, seq, src = ic.data.id, ic.data.seq, ip.src

            def reply(dst_mac: str) -> bytes:
                return icmp_frame(0, self.mac, self.ip, dst_mac, src, ident, seq)

            hop = self.next_hop(src)
            if hop == src and hop not in self.arp_cache:
                self.send(reply(eth.src))  # on-link: back to the sender's address
            else:
                self.send_via(hop, reply)
        elif ic.type == 0:
            self.echo_replies.add((ic.data.id, ic.data.seq))


# ---------------------------------------------------------------------------------- network


class SimNetwork:
    """Switches, hosts and links of a topology, with a recorder of the conversation."""

    def __init__(self, topology: Any) -> None:
        self.topology = topology
        self.records: list[OFRecord] = []
        self.pending: list[PacketIn] = []
        self.unsupported: list[str] = []
        self.drops = 0
        self.loops = 0
        self.unanswered = 0  # packet-ins the app never answered
        self.sent = 0  # messages the switches sent to the controller, echoes apart
        self.received = 0  # messages the switches received from it, echoes apart
        self.stalled = False  # a sync timed out: the app hangs in a handler
        self.outbox: collections.deque[tuple[SimSwitch, bytes]] = collections.deque()
        self._epochs = 0
        self._epoch: tuple[bytes, list[SimSwitch], int, asyncio.Future[None]] | None = None
        self.dirty: set[str] = set()  # switches that sent the controller something since the last epoch
        self.connected_at: float | None = None  # perf_counter() when the first switch connected
        self.stopped_at: float | None = None  # time() when the switches began to disconnect at the end
        self.peers: dict[tuple[str, int], tuple[str, int]] = {}
        self.down: set[frozenset[str]] = set()
        ports: dict[str, dict[int, str]] = {s.name: {} for s in topology.switches()}
        for link in topology.links:
            self.peers[(link.a, link.a_port)] = (link.b, link.b_port)
            self.peers[(link.b, link.b_port)] = (link.a, link.a_port)
            for end, port, intf in ((link.a, link.a_port, link.a_intf), (link.b, link.b_port, link.b_intf)):
                if end in ports:
                    ports[end][port] = intf
        self.switches = {s.name: SimSwitch(self, s.name, s.dpid, ports[s.name]) for s in topology.switches()}
        self.hosts = {}
        for node in topology.hosts():
            first = node.interfaces[0]
            self.hosts[node.name] = SimHost(
                self, node.name, first.mac, first.ip, first.prefixlen, getattr(node, "gateway", None)
            )

    # ---- the conversation
    def record(self, switch: SimSwitch, direction: str, data: bytes) -> None:
        self.records.append(OFRecord(time.time(), switch.address, direction, data, switch.dpid))

    def sync_answered(self) -> None:
        """A switch counted a sync answer: end the epoch once every switch has all of them."""
        if self._epoch is None:
            return
        token, switches, asked, done = self._epoch
        if not done.done() and all(s.answered.get(token, 0) >= asked for s in switches):
            done.set_result(None)

    async def sync(self, every: bool = False) -> bool:
        """One sync epoch (see ``sdnlab.grader.replay.sync``); False on a timeout.

        A sync echo goes to each switch that sent the controller something since the last epoch
        began (``every``: to each switch), behind it; the epoch ends when every connected switch
        has counted the runner's answers to all of them, which the runner sends on every
        connection behind what the app sent there. Nothing sent: nothing to wait for.
        """
        switches = [s for s in self.switches.values() if s.writer is not None and s.ready.is_set()]
        asked = [s for s in switches if every or s.name in self.dirty]
        self.dirty.clear()
        if not asked:
            return True
        self._epochs += 1
        token = str(self._epochs).encode()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._epoch = (token, switches, len(asked), done)
        for switch in asked:
            switch.send_sync(token)
        timeout = STALLED_SYNC_TIMEOUT_S if self.stalled else SYNC_TIMEOUT_S
        try:
            await asyncio.wait_for(done, timeout)
        except TimeoutError:
            self.stalled = True
            return False
        finally:
            self._epoch = None
            for switch in switches:
                switch.answered.pop(token, None)
        self.stalled = False  # it was slow, not stuck
        return True

    def _release_next(self) -> None:
        switch, data = self.outbox.popleft()
        switch.release(data)
        if data[1] == OFPT["PACKET_IN"] and not is_link_control(_packet_in_frame(data)):
            self.pending.append(PacketIn(switch.name, _packet_in_frame(data)))  # BPDUs, LLDP: no answer due

    async def settle(self, force: bool = False) -> list[PacketIn]:
        """Let the app handle what the switches have to tell it, one message at a time.

        Each waiting PACKET_IN or PORT_STATUS is sent once the app is done with everything before
        (a sync epoch in which no switch had to answer the controller). ``force`` syncs even with
        nothing waiting (after a handshake: the app's first flows). Returns the packet-ins the
        app answered with no PACKET_OUT of their frame.
        """
        if self.outbox or force:
            every = force
            while True:
                if self.outbox:
                    if self.stalled:  # the app is stuck: tell it the rest at once, then one short wait
                        while self.outbox:
                            self._release_next()
                    else:
                        self._release_next()
                sent = self.sent
                if not await self.sync(every):
                    self.outbox.clear()
                    break
                every = False
                if self.sent == sent and not self.outbox:
                    break
        unanswered = [p for p in self.pending if not p.answered]
        self.pending = []
        self.unanswered += len(unanswered)
        return unanswered

    async def idle(self, seconds: float) -> None:
        """Let ``seconds`` of real time pass while the app's timers run (a ``sleep`` step).

        What the app sends meanwhile (stplib's BPDUs by PACKET_OUT) is forwarded at once and
        what that makes the switches tell it (the BPDUs arriving at the neighbours as PACKET_INs,
        PORT_STATUS) goes out as in any step, one message at a time.
        """
        deadline = time.monotonic() + seconds
        while True:
            await self.settle()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(IDLE_POLL_S, left))

    # ---- moving frames
    def from_host(self, host: SimHost, frame: bytes) -> None:
        switch, port = self.peers[(host.name, 0)]
        if frozenset((host.name, switch)) not in self.down:
            self.switches[switch].receive(port, frame, 0)

    def emit(self, switch: SimSwitch, port: int, frame: bytes, hops: int) -> None:
        peer = self.peers.get((switch.name, port))
        if peer is None or frozenset((switch.name, peer[0])) in self.down:
            return
        name, peer_port = peer
        if name in self.hosts:
            self.hosts[name].receive(frame)
        elif hops >= MAX_HOPS:
            self.loops += 1
        else:
            self.switches[name].receive(peer_port, frame, hops + 1)

    async def link(self, a: str, b: str, up: bool) -> None:
        """Take the link a-b down or up; both switch ends report a PORT_STATUS."""
        key = frozenset((a, b))
        ends = [(n, p) for (n, p), (peer, _) in self.peers.items() if n in (a, b) and peer in (a, b)]
        if not ends:
            raise ReplayError(f"link {a} {b}: no such link in the topology")
        if up:
            self.down.discard(key)
        else:
            self.down.add(key)
        for name, port in ends:
            if name in self.switches:
                switch = self.switches[name]
                if up:
                    switch.live.add(port)
                else:
                    switch.live.discard(port)
                switch._pipeline = None
                switch.port_status(port)

    async def start(self, host: str, port: int, timeout: float = 10.0, alive: Any = None) -> None:
        """Connect every switch (while ``alive()`` holds) and wait for the handshakes."""
        for switch in self.switches.values():
            await switch.connect(host, port, alive)
            if self.connected_at is None:
                self.connected_at = time.perf_counter()  # the controller listens from here on
        try:
            await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in self.switches.values())), timeout)
        except TimeoutError:
            raise ReplayError(
                f"the app did not complete the OpenFlow handshake within {timeout:g} s"
            ) from None
        await self.settle(force=True)

    async def stop(self) -> None:
        """Disconnect every switch (what the app raises from here on is teardown, not the scenario)."""
        self.stopped_at = time.time()
        for switch in self.switches.values():
            await switch.disconnect()
