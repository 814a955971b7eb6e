"""The DPI engine: a bounded bidirectional flow table that feeds payloads to the classifier.

    engine = DpiEngine(DpiConfig(dns_servers=frozenset({"10.0.0.53"})))
    for ts, frame, linktype in read_pcap("capture.pcap"):
        record = engine.process_frame(ts, frame, linktype)   # a FlowRecord when a flow is decided
    engine.flush()                                           # close the flows still open
    engine.records(), engine.drain_risks()

``process(ts, packet)`` takes a parsed ``Packet``; it returns the flow's ``FlowRecord`` on the
packet that decides the flow's app (once per flow), else ``None``. IP-in-IP, 6in4, GRE and VXLAN
tunnels are looked through (the inner flow is classified). Only TCP and UDP are tracked.
IPv4 fragments are reassembled (``reassembly.Reassembler``, bounded by ``max_fragmented``
datagrams in progress and ``fragment_timeout``) and the whole datagram is inspected as one
packet of its flow; IPv6 fragments that carry no ports are counted in ``stats`` and skipped.

Memory is bounded: at most ``max_flows`` flows are held (the least recently active one is closed
when a new flow would exceed it), flows idle for ``idle_timeout`` seconds are closed, closed
flows' records are kept in a ring of ``max_records`` (``None``: keep all, for offline use) and
handed to ``on_record``, and risk events are kept in a ring of ``max_risks`` and handed to
``on_risk``. TCP payloads are reassembled in order into a per-direction buffer of at most
``stream_cap`` bytes, only while the flow is being classified.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sdnlab.errors import VnfError
from sdnlab.vnfs import packet as pk
from sdnlab.vnfs.dpi import model as m
from sdnlab.vnfs.dpi.classify import Classification, Limits, PacketView, expected, give_up, step
from sdnlab.vnfs.dpi.protocols import DISSECTORS
from sdnlab.vnfs.dpi.reassembly import Reassembler
from sdnlab.vnfs.dpi.records import FlowRecord, RiskEvent, proto_name
from sdnlab.vnfs.dpi.risks import ScanDetector, flow_risks

_WELL_KNOWN = frozenset(p for d in DISSECTORS for p in d.ports)
_TUNNEL_PROTOS = frozenset((pk.IPPROTO_IPIP, pk.IPPROTO_IPV6_IN_IP, pk.IPPROTO_GRE))
_VXLAN_PORT = 4789
_MAX_TUNNEL_DEPTH = 3


@dataclass(frozen=True)
class DpiConfig:
    """Engine settings (bounds, classification limits, risk rules)."""

    max_flows: int = 65536
    idle_timeout: float = 300.0
    max_records: int | None = 100_000
    max_risks: int = 10_000
    stream_cap: int = 4096  # per direction, only while classifying: worst case max_flows * 2 * stream_cap
    limits: Limits = field(default_factory=Limits)
    dns_servers: frozenset[str] = frozenset()  # allowed resolvers; empty: only off-port-53 DNS is unusual
    scan_ports: frozenset[int] = frozenset({23, 2323})
    scan_threshold: int = 10
    scan_window: float = 60.0
    max_scan_sources: int = 65536
    max_fragmented: int = 1024  # IPv4 datagrams being reassembled at once
    fragment_timeout: float = 30.0

    def __post_init__(self) -> None:
        # resolvers are compared with the flows' server addresses as text: keep them in that form
        object.__setattr__(self, "dns_servers", canonical_addresses(self.dns_servers, "dns_servers"))


class DpiConfigError(VnfError):
    """A DPI setting is invalid; the message names the setting and the value."""


def canonical_addresses(values: Iterable[str], setting: str) -> frozenset[str]:
    """IP address texts in the form flow records use (``2001:DB8::1`` -> ``2001:db8::1``)."""
    if isinstance(values, str):
        raise DpiConfigError(f"{setting}: expected a set of IP addresses, got the string {values!r}")
    out = set()
    for value in values:
        try:
            out.add(pk.ip_text(*pk.ip_value(value)))
        except (pk.PacketError, TypeError):
            raise DpiConfigError(f"{setting}: {value!r} is not an IPv4 or IPv6 address") from None
    return frozenset(out)


@dataclass
class DpiStats:
    """Counters of what the engine saw."""

    packets: int = 0
    malformed: int = 0
    not_tracked: int = 0  # non-IP, or IP other than TCP/UDP
    fragments: int = 0  # IP fragments (reassembled or not; details in ``DpiEngine.reassembly.stats``)
    flows: int = 0  # flows created
    evicted: int = 0  # flows closed to make room (LRU)
    expired: int = 0  # flows closed after the idle timeout


class FlowState:
    """One tracked flow (mutable; owned by the engine)."""

    __slots__ = (
        "bytes",
        "client_ip",
        "client_port",
        "cls",
        "first_seen",
        "ip_proto",
        "key",
        "last_seen",
        "next_seq",
        "packets",
        "reported",
        "risks",
        "server_ip",
        "server_port",
        "streams",
        "version",
    )

    def __init__(self, key: pk.FlowKey, packet: pk.Packet, ts: float, initiator_is_src: bool) -> None:
        self.key = key
        self.ip_proto = packet.ip_proto
        self.version = packet.ip_version
        if initiator_is_src:
            self.client_ip, self.client_port = packet.ip_src, packet.l4_src
            self.server_ip, self.server_port = packet.ip_dst, packet.l4_dst
        else:
            self.client_ip, self.client_port = packet.ip_dst, packet.l4_dst
            self.server_ip, self.server_port = packet.ip_src, packet.l4_src
        self.first_seen = self.last_seen = ts
        self.packets = [0, 0]
        self.bytes = [0, 0]
        self.cls = Classification()
        self.streams: list[bytes] = [b"", b""]
        self.next_seq: list[int | None] = [None, None]
        self.risks: tuple[str, ...] = ()
        self.reported = False

    def record(self) -> FlowRecord:
        """The flow's current record."""
        cls = self.cls
        metadata = {k: v for k, v in cls.metadata.items() if not k.startswith("_")}
        return FlowRecord(
            proto_name(self.ip_proto),
            pk.ip_text(self.client_ip, self.version),
            self.client_port,
            pk.ip_text(self.server_ip, self.version),
            self.server_port,
            cls.app or m.UNKNOWN,
            cls.confidence,
            metadata,
            self.packets[0] + self.packets[1],
            self.bytes[0] + self.bytes[1],
            self.packets[0],
            self.packets[1],
            self.bytes[0],
            self.bytes[1],
            self.first_seen,
            self.last_seen,
            self.risks,
        )


def _initiator_is_src(packet: pk.Packet) -> bool:
    """Guess whether the packet's source opened the flow (SYN, well-known ports)."""
    if packet.ip_proto == m.TCP:
        flags = packet.tcp_flags
        if flags & pk.TCP_SYN:
            return not flags & pk.TCP_ACK
    src_known = packet.l4_src in _WELL_KNOWN or packet.l4_src < 1024
    dst_known = packet.l4_dst in _WELL_KNOWN or packet.l4_dst < 1024
    if src_known and not dst_known:
        return False
    # both ports known: the system port serves (a DNS reply from 53 to 5353 comes from the server)
    return not (src_known and packet.l4_src < 1024 <= packet.l4_dst)


class DpiEngine:
    """Classifies the flows of a packet stream; see the module docstring."""

    def __init__(
        self,
        config: DpiConfig | None = None,
        *,
        on_record: Callable[[FlowRecord], None] | None = None,
        on_risk: Callable[[RiskEvent], None] | None = None,
    ) -> None:
        self.config = config or DpiConfig()
        self.stats = DpiStats()
        self.on_record = on_record
        self.on_risk = on_risk
        # Its own LRU, not the VNF framework's FlowTable, on purpose: vnfs/dpi is a library of its
        # own (``sdnlab dpi classify`` runs it with no VNF framework at all); a flow's idle time is
        # FlowState.last_seen, which FlowTable would duplicate per entry; and eviction and idle
        # expiry must each turn the closed flow into its FlowRecord in order (``_sweep`` returns
        # them, FlowTable.expire only counts). Order of last activity: the oldest flow is first.
        self._flows: OrderedDict[pk.FlowKey, FlowState] = OrderedDict()
        self._closed: deque[FlowRecord] = deque(maxlen=self.config.max_records)
        self._risks: deque[RiskEvent] = deque(maxlen=self.config.max_risks)
        self._pending: deque[RiskEvent] = deque(maxlen=self.config.max_risks)
        self._scan = ScanDetector(
            self.config.scan_ports,
            self.config.scan_threshold,
            self.config.scan_window,
            self.config.max_scan_sources,
        )
        # (ip value, port) -> (app, expiry ts): connections announced by other flows (FTP data)
        self._expected: OrderedDict[tuple[int, int], tuple[str, float]] = OrderedDict()
        self._last_sweep = float("-inf")
        self.reassembly = Reassembler(self.config.max_fragmented, timeout=self.config.fragment_timeout)

    # ------------------------------------------------------------------ packet path

    def process_frame(
        self, ts: float, frame: bytes, linktype: int = pk.LINKTYPE_ETHERNET
    ) -> FlowRecord | None:
        """Parse and process one frame; malformed frames are counted and skipped."""
        try:
            packet = pk.parse(frame, linktype)
        except pk.PacketError:
            self.stats.packets += 1
            self.stats.malformed += 1
            return None
        return self.process(ts, packet)

    def process(self, ts: float, packet: pk.Packet) -> FlowRecord | None:
        """Account one packet to its flow; returns the flow's record when this packet decides its app."""
        stats = self.stats
        stats.packets += 1
        if packet.is_fragment:
            stats.fragments += 1
            if packet.ip_version == 4:
                whole = self.reassembly.add(packet, ts)
                if whole is None:
                    return None  # more fragments to come (or the datagram was dropped)
                packet = whole
        for _ in range(_MAX_TUNNEL_DEPTH):
            if packet.ip_proto not in _TUNNEL_PROTOS and packet.l4_dst != _VXLAN_PORT:
                break
            try:
                inner = pk.decapsulate(packet)
            except pk.PacketError:
                stats.malformed += 1
                return None
            if inner is None:
                break
            packet = inner
        if packet.ip_proto not in (m.TCP, m.UDP) or not packet.ip_version:
            stats.not_tracked += 1
            return None
        if packet.l4_offset < 0:
            return None  # an IPv6 fragment without ports
        if ts - self._last_sweep >= 1.0:
            self._sweep(ts)
        key = packet.bidi_key()
        flows = self._flows
        flow = flows.get(key)
        if flow is None:
            flow = self._open(key, packet, ts)
        else:
            flows.move_to_end(key)
        from_client = packet.ip_src == flow.client_ip and packet.l4_src == flow.client_port
        direction = 0 if from_client else 1
        flow.packets[direction] += 1
        flow.bytes[direction] += len(packet.frame)
        flow.last_seen = ts
        cls = flow.cls
        if cls.finished:
            return None if flow.reported else self._decided(flow, ts)
        limits = self.config.limits
        seen = flow.packets[0] + flow.packets[1]
        if seen >= limits.max_packets and (
            not cls.decided or seen >= limits.max_packets + limits.enrich_packets
        ):
            # the packet budget is spent (bare ACKs, retransmissions...): stop inspecting this flow
            flow.cls = give_up(cls, flow.ip_proto, flow.server_port, limits)
            flow.streams = [b"", b""]
            return None if flow.reported else self._decided(flow, ts)
        if packet.payload_offset >= packet.payload_end:
            return None
        payload = packet.frame[packet.payload_offset : packet.payload_end]
        if packet.ip_proto == m.TCP:
            stream = self._feed_stream(flow, direction, packet, payload)
            if stream is None:
                return None  # a retransmission: nothing new
        else:
            stream = payload
        view = PacketView(packet.ip_proto, from_client, flow.client_port, flow.server_port, stream)
        new = step(cls, payload, view, limits)
        flow.cls = new
        if new.finished:
            flow.streams = [b"", b""]
        if new.metadata.get("_expect") and new.metadata is not cls.metadata:
            self._learn_expectations(flow, new.metadata["_expect"], ts)
        if new.decided and not flow.reported:
            return self._decided(flow, ts)
        return None

    def _open(self, key: pk.FlowKey, packet: pk.Packet, ts: float) -> FlowState:
        flow = FlowState(key, packet, ts, _initiator_is_src(packet))
        self.stats.flows += 1
        flows = self._flows
        flows[key] = flow
        if len(flows) > self.config.max_flows:
            _, oldest = flows.popitem(last=False)
            self.stats.evicted += 1
            self._close(oldest, ts)
        if packet.tcp_flags & (pk.TCP_SYN | pk.TCP_ACK) == pk.TCP_SYN and packet.ip_proto == m.TCP:
            event = self._scan.observe(ts, packet.ip_src, packet.ip_dst, packet.l4_dst, packet.ip_version)
            if event is not None:
                self._raise(event)
        if self._expected:
            for endpoint in ((flow.server_ip, flow.server_port), (flow.client_ip, flow.client_port)):
                announced = self._expected.pop(endpoint, None)
                if announced is not None and announced[1] >= ts:
                    flow.cls = expected(announced[0])
                    break
        return flow

    def _feed_stream(
        self, flow: FlowState, direction: int, packet: pk.Packet, payload: bytes
    ) -> bytes | None:
        """Append a TCP payload to the direction's in-order buffer; None for a pure retransmission."""
        seq = packet.tcp_seq
        expected_seq = flow.next_seq[direction]
        end = (seq + len(payload)) & 0xFFFFFFFF
        buffer = flow.streams[direction]
        if expected_seq is None:
            buffer = payload
        else:
            ahead = (seq - expected_seq) & 0xFFFFFFFF
            if ahead == 0:
                buffer = buffer + payload if len(buffer) < self.config.stream_cap else buffer
            elif ahead >= 0x80000000:  # starts before what we have: retransmission or overlap
                behind = 0x100000000 - ahead
                if behind >= len(payload):
                    return None
                tail = payload[behind:]
                buffer = buffer + tail if len(buffer) < self.config.stream_cap else buffer
            else:  # a gap (lost or reordered segment): restart the buffer here
                buffer = payload
        flow.streams[direction] = buffer[: self.config.stream_cap]
        flow.next_seq[direction] = end
        return flow.streams[direction]

    def _decided(self, flow: FlowState, ts: float) -> FlowRecord:
        flow.reported = True
        cls = flow.cls
        server = pk.ip_text(flow.server_ip, flow.version)
        if cls.confidence in ("dpi", "expected"):  # a port guess is no evidence of cleartext or DNS use
            flow.risks = flow_risks(cls.app or m.UNKNOWN, server, flow.server_port, self.config.dns_servers)
        client = pk.ip_text(flow.client_ip, flow.version)
        for kind in flow.risks:
            self._raise(
                RiskEvent(
                    ts,
                    kind,
                    client,
                    server,
                    f"{cls.app} flow {client}:{flow.client_port} -> {server}:{flow.server_port}",
                    {
                        "proto": proto_name(flow.ip_proto),
                        "sport": flow.client_port,
                        "dport": flow.server_port,
                    },
                )
            )
        return flow.record()

    def _learn_expectations(
        self, flow: FlowState, announced: list[tuple[str, str | None, int]], ts: float
    ) -> None:
        for side, ip, port in announced:
            if ip is None:
                value = flow.server_ip if side == "server" else flow.client_ip
            else:
                try:
                    value = pk.ip_value(ip)[0]
                except pk.PacketError:
                    continue
            self._expected[(value, port)] = (m.FTP_DATA, ts + 120.0)
            while len(self._expected) > 4096:
                self._expected.popitem(last=False)
        flow.cls = flow.cls._replace(metadata={k: v for k, v in flow.cls.metadata.items() if k != "_expect"})

    def _raise(self, event: RiskEvent) -> None:
        self._risks.append(event)
        self._pending.append(event)
        if self.on_risk is not None:
            self.on_risk(event)

    # ------------------------------------------------------------------ closing flows

    def _close(self, flow: FlowState, ts: float) -> FlowRecord:
        if not flow.cls.decided or flow.cls.enriching >= 0:
            flow.cls = give_up(flow.cls, flow.ip_proto, flow.server_port, self.config.limits)
        record = flow.record() if flow.reported else self._decided(flow, ts)
        self._closed.append(record)
        if self.on_record is not None:
            self.on_record(record)
        return record

    def _sweep(self, ts: float, closed: list[FlowRecord] | None = None) -> None:
        """Close the flows idle for longer than the timeout (oldest activity first)."""
        self._last_sweep = ts
        limit = ts - self.config.idle_timeout
        flows = self._flows
        while flows:
            key, flow = next(iter(flows.items()))
            if flow.last_seen >= limit:
                break
            del flows[key]
            self.stats.expired += 1
            record = self._close(flow, ts)
            if closed is not None:
                closed.append(record)

    def flush(self) -> list[FlowRecord]:
        """Close every open flow (end of a capture); returns their records."""
        closed = [self._close(flow, flow.last_seen) for flow in self._flows.values()]
        self._flows.clear()
        return closed

    def expire(self, now: float) -> list[FlowRecord]:
        """Close the flows idle for longer than ``idle_timeout`` at ``now`` (call it from a timer)."""
        closed: list[FlowRecord] = []
        self._sweep(now, closed)
        return closed

    # ------------------------------------------------------------------ queries

    @property
    def pending_risks(self) -> int:
        """How many risk events ``drain_risks`` would return now (cheap to poll per packet)."""
        return len(self._pending)

    def app_of(self, packet: pk.Packet) -> str | None:
        """The app of the packet's flow when it is decided (None: unknown flow or still undecided)."""
        flow = self._flows.get(packet.bidi_key())
        return flow.cls.app if flow is not None else None

    def records(self) -> list[FlowRecord]:
        """Records of the closed flows still retained, then of the open flows."""
        return [*self._closed, *(flow.record() for flow in self._flows.values())]

    def risks(self) -> list[RiskEvent]:
        """The risk events retained so far (at most ``max_risks``)."""
        return list(self._risks)

    def drain_risks(self) -> list[RiskEvent]:
        """The risk events raised since the last call (for a VNF that acts on them)."""
        pending = list(self._pending)
        self._pending.clear()
        return pending

    @property
    def flow_count(self) -> int:
        """Number of flows currently held."""
        return len(self._flows)

    def memory_bounds(self) -> dict[str, Any]:
        """Sizes of every growing structure (for tests and status output)."""
        return {
            "flows": len(self._flows),
            "closed_records": len(self._closed),
            "risks": len(self._risks),
            "pending_risks": len(self._pending),
            "scan_sources": len(self._scan),
            "expected": len(self._expected),
        }
