"""OpenFlow 1.3 L2 learning, as a pure decision function.

``LearningSwitch.packet_in(now, packet)`` learns the source MAC's port and returns the messages
to send: a flow (match ``eth_dst`` in table FORWARD, idle timeout) plus a packet-out when the
destination is known, a flooding packet-out otherwise. ``datapath_up`` returns the table-miss
flows. Learned entries expire after ``idle_timeout`` seconds without a packet-in, like the flows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sdnlab.controller import ofmsg
from sdnlab.controller.pipeline import COOKIE_BUILTIN, FORWARD, INGRESS, PRIORITY_L2, PRIORITY_MISS

DEFAULT_IDLE_TIMEOUT = 60


@dataclass(frozen=True)
class PacketIn:
    """The parts of a packet-in the forwarding logic needs."""

    dpid: int
    in_port: int
    eth_src: str
    eth_dst: str
    data: bytes = b""
    buffer_id: int = ofmsg.NO_BUFFER
    eth_type: int = 0


def is_multicast(mac: str) -> bool:
    """True for broadcast and multicast MAC addresses (group bit set)."""
    return bool(int(mac.split(":")[0], 16) & 1)


def table_miss_flows() -> list:
    """Table INGRESS falls through to FORWARD; FORWARD's miss sends packets to the controller."""
    return [
        ofmsg.flow_add(
            INGRESS.table_id,
            PRIORITY_MISS,
            ofmsg.match(),
            [ofmsg.goto(FORWARD.table_id)],
            cookie=COOKIE_BUILTIN,
        ),
        ofmsg.flow_add(
            FORWARD.table_id,
            PRIORITY_MISS,
            ofmsg.match(),
            [ofmsg.apply_actions([ofmsg.output(ofmsg.OFPP_CONTROLLER)])],
            cookie=COOKIE_BUILTIN,
        ),
    ]


def reset_flows() -> list:
    """Delete the built-in app's flows and groups, then install the table-miss flows."""
    return [ofmsg.flow_delete(), ofmsg.group_delete_all(), *table_miss_flows()]


@dataclass
class MacEntry:
    port_no: int
    last_seen: float


@dataclass
class LearningSwitch:
    """MAC learning for every connected datapath."""

    idle_timeout: int = DEFAULT_IDLE_TIMEOUT
    tables: dict[int, dict[str, MacEntry]] = field(default_factory=dict)

    def datapath_up(self, dpid: int) -> list:
        """Forget what was learned on ``dpid`` and return its initial flows."""
        self.tables[dpid] = {}
        return reset_flows()

    def datapath_down(self, dpid: int) -> None:
        """Forget ``dpid``."""
        self.tables.pop(dpid, None)

    def port_of(self, now: float, dpid: int, mac: str) -> int | None:
        """The port ``mac`` was last seen on at ``dpid``, if not expired."""
        entry = self.tables.get(dpid, {}).get(mac)
        if entry is None or now - entry.last_seen > self.idle_timeout:
            return None
        return entry.port_no

    def learn(self, now: float, dpid: int, mac: str, port_no: int) -> None:
        """Record that ``mac`` is reachable through ``port_no`` on ``dpid``."""
        if not is_multicast(mac):
            self.tables.setdefault(dpid, {})[mac] = MacEntry(port_no, now)

    def decide(self, now: float, pkt: PacketIn) -> int | None:
        """Learn the source; the port to forward to, ``None`` to flood, ``pkt.in_port`` to drop."""
        self.learn(now, pkt.dpid, pkt.eth_src, pkt.in_port)
        return None if is_multicast(pkt.eth_dst) else self.port_of(now, pkt.dpid, pkt.eth_dst)

    def packet_in(self, now: float, pkt: PacketIn) -> list:
        """Learn the source, then forward (flow + packet-out) or flood."""
        out_port = self.decide(now, pkt)
        if out_port is None:
            return [ofmsg.packet_out(pkt.in_port, [ofmsg.output(ofmsg.OFPP_FLOOD)], pkt.data, pkt.buffer_id)]
        if out_port == pkt.in_port:
            return []  # the destination is behind the port it came from: nothing to do
        flow = ofmsg.flow_add(
            FORWARD.table_id,
            PRIORITY_L2,
            ofmsg.match(eth_dst=pkt.eth_dst),
            [ofmsg.apply_actions([ofmsg.output(out_port)])],
            idle_timeout=self.idle_timeout,
            cookie=COOKIE_BUILTIN,
        )
        return [flow, ofmsg.packet_out(pkt.in_port, [ofmsg.output(out_port)], pkt.data, pkt.buffer_id)]
