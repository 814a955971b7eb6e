"""The load balancer VNF: a virtual IP in front of a pool of backends, in NAT mode.

Deployment: the VNF sits in the path between clients and servers (bump-in-the-wire or one-
armed with the return traffic steered back through it). A client's packet to the VIP (and,
when ``port`` is set, that port) belongs to a flow; a new flow gets a backend from the
scheduler (or the fallback server when no backend is available) and keeps it while it
lives: pool changes and reloads do not move existing flows unless their backend became
unhealthy or was removed. Weight 0 drains a backend: its flows continue, no new ones come.
The VIP's ARP requests are answered with ``vip_mac`` when it is set.

Example config::

    vip: 10.0.0.100
    vip_mac: 02:00:00:00:01:00
    port: 80
    scheduler: maglev        # round_robin | weighted_round_robin | least_connections | source_hash | maglev
    backends:
      - {name: web1, ip: 10.0.0.11, mac: 00:00:00:00:00:0b, weight: 2}
      - {name: web2, ip: 10.0.0.12, mac: 00:00:00:00:00:0c}
    fallback: {name: sorry, ip: 10.0.0.19}
    health_check: {type: http, path: /health, interval: 2, timeout: 1, fall: 3, rise: 2}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sdnlab.vnfs.framework.base import VNF
from sdnlab.vnfs.framework.config import (
    Fields,
    mac_text,
    to_bool,
    to_choice,
    to_float,
    to_int,
    to_ipv4,
    to_mac,
    to_port_range,
    to_str,
)
from sdnlab.vnfs.framework.flowtable import FlowTable
from sdnlab.vnfs.framework.verdict import FORWARD, Verdict, drop, reply, rewrite
from sdnlab.vnfs.lb.health import HealthCheck, HealthChecker
from sdnlab.vnfs.lb.nat import NatRewrite, arp_reply, arp_request_for, flow_hash
from sdnlab.vnfs.lb.pool import Backend, BackendState
from sdnlab.vnfs.lb.schedulers import SCHEDULERS, is_prime, make_scheduler
from sdnlab.vnfs.packet import TCP_FIN, TCP_RST, ip_text, ip_value

_PROTOS = {"tcp": 6, "udp": 17}
_DROP_NO_BACKEND = drop("no_backend")


@dataclass(frozen=True, slots=True)
class LbConfig:
    """The validated load-balancer settings."""

    vip: str
    backends: tuple[Backend, ...]
    vip_mac: bytes | None = None
    port: int | None = None
    proto: int = 6
    scheduler: str = "round_robin"
    maglev_table_size: int = 65537
    fallback: Backend | None = None
    health: HealthCheck = field(default_factory=HealthCheck)
    max_flows: int = 262144
    idle_timeout: float = 300.0
    offload: bool = False


class Flow:
    """One balanced connection: its backend, both keys, both translations, the close progress."""

    __slots__ = (
        "answered",
        "backend",
        "client_key",
        "dnat",
        "done",
        "fins",
        "offloaded",
        "server_key",
        "unnat",
    )

    def __init__(self, backend: BackendState, client_key: tuple, server_key: tuple, vip_mac: bytes | None):
        self.backend = backend
        self.client_key = client_key
        self.server_key = server_key
        self.fins = 0
        self.done = False
        self.answered = False
        self.offloaded = False
        vip = client_key[3].to_bytes(4, "big")
        server = server_key[1].to_bytes(4, "big")
        # client -> VIP becomes client -> backend; backend -> client becomes VIP -> client
        self.dnat = NatRewrite(16, vip, server, 2, client_key[4], server_key[2], 0, backend.backend.mac)
        self.unnat = NatRewrite(12, server, vip, 0, server_key[2], client_key[4], 6, vip_mac)


def _parse_backend(fields: Fields, default_name: str) -> Backend:
    backend = Backend(
        name=fields.get("name", to_str, default_name),
        ip=fields.get("ip", to_ipv4),
        port=fields.get("port", to_int(1, 65535), None),
        mac=fields.get("mac", to_mac, None),
        weight=fields.get("weight", to_int(0, 1000), 1),
    )
    fields.reject_unknown()
    return backend


def _status_range(value: Any) -> tuple[int, int]:
    low, high = to_port_range(value)
    if not (100 <= low <= high <= 599):
        raise ValueError("expected an HTTP status or range such as 200-399")
    return low, high


class LoadBalancer(VNF):
    """VIP load balancer with five schedulers, NAT, affinity and health checks."""

    kind = "lb"

    def parse_config(self, fields: Fields) -> LbConfig:
        backends = []
        for i, (path, line, item) in enumerate(fields.items("backends")):
            backends.append(_parse_backend(Fields(item, path, fields.errors, line), f"backend{i}"))
        if "backends" not in fields.data:
            fields.error("backends", "is required (a list of {name, ip, port, mac, weight})")
        names = [b.name for b in backends]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            fields.error("backends", f"backend name {dup!r} is used twice")
        fallback = None
        if "fallback" in fields.data:
            fallback = _parse_backend(fields.sub("fallback"), "fallback")
        h = fields.sub("health_check")
        health = HealthCheck(
            type=h.get("type", to_choice("none", "tcp", "http"), "none"),
            interval=h.get("interval", to_float(0.05), 2.0),
            timeout=h.get("timeout", to_float(0.01), 1.0),
            fall=h.get("fall", to_int(1), h.get("retries", to_int(1), 3)),
            rise=h.get("rise", to_int(1), 2),
            port=h.get("port", to_int(1, 65535), None),
            path=h.get("path", to_str, "/"),
            host=h.get("host", to_str, ""),
            expect_status=h.get("expect_status", _status_range, (200, 399)),
        )
        h.reject_unknown()
        scheduler = fields.get("scheduler", to_choice(*SCHEDULERS), "round_robin")
        table_size = fields.get("maglev_table_size", to_int(7, 1_000_003), 65537)
        if table_size and scheduler == "maglev":
            if not is_prime(table_size):
                fields.error("maglev_table_size", f"must be a prime number (got {table_size})")
            elif backends and table_size < 10 * len(backends):
                fields.error("maglev_table_size", "should be at least 10x the number of backends")
        cfg = LbConfig(
            vip=fields.get("vip", to_ipv4),
            backends=tuple(backends),
            vip_mac=fields.get("vip_mac", to_mac, None),
            port=fields.get("port", to_int(1, 65535), None),
            proto=_PROTOS.get(fields.get("proto", to_choice("tcp", "udp"), "tcp"), 6),
            scheduler=scheduler,
            maglev_table_size=table_size,
            fallback=fallback,
            health=health,
            max_flows=fields.get("max_flows", to_int(16), 262144),
            idle_timeout=fields.get("idle_timeout", to_float(1), 300.0),
            offload=fields.get("offload", to_bool, False),
        )
        return cfg

    def apply_config(self, cfg: LbConfig) -> None:
        old_states = getattr(self, "states", {})
        old = getattr(self, "config", None)
        self.config = cfg
        self.vip_value = ip_value(cfg.vip)[0]
        self.vip_bytes = self.vip_value.to_bytes(4, "big")
        self.states = {}
        for backend in cfg.backends:
            state = old_states.get(backend.name)
            if state is None or state.backend.ip != backend.ip or state.backend.port != backend.port:
                state = BackendState(backend)
            else:
                state.backend = backend  # keep health, counters and active flows
            self.states[backend.name] = state
        self.fallback = BackendState(cfg.fallback) if cfg.fallback else None
        if old is None or old.max_flows != cfg.max_flows or old.idle_timeout != cfg.idle_timeout:
            self.flows = FlowTable(cfg.max_flows, cfg.idle_timeout, on_evict=self._flow_gone)
            self.reverse = FlowTable(cfg.max_flows, cfg.idle_timeout)
        self.scheduler = make_scheduler(cfg.scheduler, cfg.maglev_table_size)
        self.rebuild_pool()
        for name in (
            "balanced",
            "reverse",
            "new_flows",
            "no_backend",
            "fallback",
            "arp_replies",
            "rebalanced",
        ):
            self.counters.setdefault(name, 0)
        checker = getattr(self, "checker", None)
        if checker is not None:
            checker.stop()
        self.checker = HealthChecker(cfg.health, list(self.states.values()), cfg.port, self._health_changed)
        if getattr(self, "started", False):
            self.checker.start()

    def start(self) -> None:
        """Start the health checks (the engine calls this once the VNF runs live)."""
        self.started = True
        self.checker.start()

    def close(self) -> None:
        self.checker.stop()

    def rebuild_pool(self) -> None:
        """Give the scheduler the backends that take new flows now."""
        scheduler = make_scheduler(self.config.scheduler, self.config.maglev_table_size)
        scheduler.set_pool([s for s in self.states.values() if s.available])
        self.scheduler = scheduler  # one assignment: the packet path sees the old or the new one

    def _health_changed(self, state: BackendState, up: bool) -> None:
        state.healthy = up
        state.health_changes += 1
        self.log.emit("health", backend=state.name, up=up, detail=state.last_check)
        self.rebuild_pool()

    def _flow_gone(self, key: Any, flow: Flow, why: str) -> None:
        self.reverse.pop(flow.server_key)
        if not flow.done:
            flow.backend.active -= 1

    # ----- packet path -------------------------------------------------------------------

    def handle(self, packet: Any) -> Verdict:
        if packet.ip_version != 4:
            if packet.eth_type == 0x0806 and self.config.vip_mac is not None:
                return self._arp(packet)
            return FORWARD
        if packet.ip_proto != self.config.proto or packet.l4_offset < 0:
            return FORWARD
        if packet.ip_dst == self.vip_value and (
            self.config.port is None or packet.l4_dst == self.config.port
        ):
            return self._to_backend(packet)
        server_key = (packet.ip_proto, packet.ip_src, packet.l4_src, packet.ip_dst, packet.l4_dst)
        flow = self.reverse.get(server_key, self.now)
        if flow is None:
            return FORWARD
        return self._to_client(packet, flow)

    def _arp(self, packet: Any) -> Verdict:
        request = arp_request_for(packet)
        if request is None or request[2] != self.vip_bytes or self.config.vip_mac is None:
            return FORWARD
        self.counters["arp_replies"] += 1
        return reply(arp_reply(self.config.vip_mac, self.vip_bytes, request[0], request[1]), "arp")

    def _to_backend(self, packet: Any) -> Verdict:
        now = self.now
        key = (packet.ip_proto, packet.ip_src, packet.l4_src, packet.ip_dst, packet.l4_dst)
        flow = self.flows.get(key, now)
        if flow is not None:
            state = flow.backend
            if not state.healthy or (state is not self.fallback and self.states.get(state.name) is not state):
                self.counters["rebalanced"] += 1
                self.flows.pop(key)
                self._flow_gone(key, flow, "rebalance")
                flow = None
        if flow is None:
            state = self.scheduler.pick(flow_hash(packet), packet.ip_src.to_bytes(4, "big"))
            if state is None:
                state = self.fallback
                if state is None:
                    self.counters["no_backend"] += 1
                    self.log.emit("no_backend", src=packet.ip_src_text, sport=packet.l4_src)
                    return _DROP_NO_BACKEND
                self.counters["fallback"] += 1
            backend = state.backend
            server_key = (
                packet.ip_proto,
                ip_value(backend.ip)[0],
                backend.port or packet.l4_dst,
                packet.ip_src,
                packet.l4_src,
            )
            flow = Flow(state, key, server_key, self.config.vip_mac)
            self.flows.put(key, flow, now)
            self.reverse.put(server_key, flow, now)
            state.active += 1
            state.flows += 1
            self.counters["new_flows"] += 1
        else:
            state = flow.backend
            self.reverse.get(flow.server_key, now)  # keep both directions alive together
            if self.config.offload and flow.answered and not flow.offloaded:
                flow.offloaded = True
                self._offload(packet, flow)
        self._track_close(packet, flow)
        state.packets += 1
        state.bytes += len(packet.frame)
        self.counters["balanced"] += 1
        return rewrite(flow.dnat.apply(packet), reason="dnat")

    def _offload(self, packet: Any, flow: Flow) -> None:
        """Ask the switch to do this flow's NAT from now on (see VNF.offload)."""
        backend = flow.backend.backend
        self.offload(
            packet,
            "rewrite",
            backend_ip=ip_text(flow.server_key[1], 4),
            backend_port=flow.server_key[2],
            backend_mac=mac_text(backend.mac) if backend.mac else None,
            vip_mac=mac_text(self.config.vip_mac) if self.config.vip_mac else None,
        )

    def _to_client(self, packet: Any, flow: Flow) -> Verdict:
        flow.answered = True
        self.flows.get(flow.client_key, self.now)
        self._track_close(packet, flow)
        self.counters["reverse"] += 1
        return rewrite(flow.unnat.apply(packet), reason="unnat")

    @staticmethod
    def _track_close(packet: Any, flow: Flow) -> None:
        flags = packet.tcp_flags
        if flow.done or not flags & (TCP_FIN | TCP_RST) or packet.ip_proto != 6:
            return
        flow.fins += 1
        if flags & TCP_RST or flow.fins >= 2:
            flow.done = True
            flow.backend.active -= 1

    def tick(self, now: float) -> list[tuple[str, bytes]]:
        self.flows.expire(now)
        self.reverse.expire(now)
        return []

    def stats(self) -> dict[str, Any]:
        backends = {name: s.to_dict() for name, s in self.states.items()}
        if self.fallback is not None:
            backends[self.fallback.name] = {**self.fallback.to_dict(), "fallback": True}
        return {
            "counters": dict(self.counters),
            "backends": backends,
            "flows": len(self.flows),
            "scheduler": self.config.scheduler,
            "vip": self.config.vip,
            "vip_mac": mac_text(self.config.vip_mac) if self.config.vip_mac else None,
        }
