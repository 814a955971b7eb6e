"""The DPI VNF: classifies every flow on the wire and acts on risk events.

Packets always pass (DPI observes) unless their application is in ``block_apps`` or their
source is quarantined. Each decided flow is logged as a ``flow`` JSON line (5-tuple, app,
metadata); each risk event (cleartext telnet, a telnet scanner, DNS to an unusual server) as
a ``risk`` line. Risk kinds listed in ``quarantine.risks`` quarantine the host: locally (its
packets are dropped here) and, when ``quarantine.controller_url`` is set, through the
controller's REST API so the switches drop it at the edge.

Example config::

    dns_servers: [10.2.0.53]
    block_apps: [Telnet]
    quarantine:
      risks: [telnet_scan]
      local: true
      controller_url: http://127.0.0.1:8080
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sdnlab.vnfs.dpi.engine import DpiConfig, DpiEngine
from sdnlab.vnfs.dpi.records import FlowRecord, RiskEvent
from sdnlab.vnfs.dpi_vnf.quarantine import QuarantineSender
from sdnlab.vnfs.framework.base import VNF
from sdnlab.vnfs.framework.config import Fields, to_bool, to_float, to_int, to_ipv4, to_str
from sdnlab.vnfs.framework.verdict import FORWARD, Verdict, drop
from sdnlab.vnfs.packet import ip_value

RISK_KINDS = ("cleartext_telnet", "telnet_scan", "unusual_dns_server")  # as the DPI engine spells them


def _risk_kind(value: Any) -> str:
    value = str(value).lower()
    if value not in RISK_KINDS:
        raise ValueError(f"expected one of {', '.join(RISK_KINDS)}")
    return value


@dataclass(frozen=True, slots=True)
class DpiVnfConfig:
    """The validated DPI VNF settings."""

    engine: DpiConfig
    block_apps: frozenset[str] = frozenset()
    quarantine_on: frozenset[str] = frozenset()
    quarantine_local: bool = True
    controller_url: str | None = None
    controller_netns: str | None = None
    offload: bool = False


class DpiVnf(VNF):
    """Deep packet inspection on the wire, with quarantine of risky hosts."""

    kind = "dpi"

    def parse_config(self, fields: Fields) -> DpiVnfConfig:
        engine = DpiConfig(
            max_flows=fields.get("max_flows", to_int(16), 65536),
            idle_timeout=fields.get("idle_timeout", to_float(1), 300.0),
            max_records=fields.get("max_records", to_int(0), 10_000),
            dns_servers=frozenset(fields.get_list("dns_servers", to_ipv4)),
            scan_threshold=fields.get("scan_threshold", to_int(1), 10),
            scan_window=fields.get("scan_window", to_float(1), 60.0),
        )
        q = fields.sub("quarantine")
        cfg = DpiVnfConfig(
            engine=engine,
            block_apps=frozenset(fields.get_list("block_apps", to_str)),
            quarantine_on=frozenset(q.get_list("risks", _risk_kind)),
            quarantine_local=q.get("local", to_bool, True),
            controller_url=q.get("controller_url", to_str, None),
            controller_netns=q.get("controller_netns", to_str, os.environ.get("SDNLAB_ROOT_NETNS")),
            offload=fields.get("offload", to_bool, False),
        )
        q.reject_unknown()
        return cfg

    def apply_config(self, cfg: DpiVnfConfig) -> None:
        old = getattr(self, "config", None)
        self.config = cfg
        if old is None or old.engine != cfg.engine:
            self.engine = DpiEngine(cfg.engine, on_record=self._closed_record)
            self.apps: Counter = Counter()
            self.flow_apps: dict = {}
        self.quarantined: dict[int, str] = getattr(self, "quarantined", {})
        sender = getattr(self, "sender", None)
        if sender is not None:
            sender.close()
        self.sender = None
        if cfg.controller_url:
            self.sender = QuarantineSender(cfg.controller_url, cfg.controller_netns, self._quarantine_result)
        for name in ("classified", "risks", "quarantined_drops", "blocked_app_drops"):
            self.counters.setdefault(name, 0)

    def handle(self, packet: Any) -> Verdict:
        if self.quarantined and packet.ip_version and packet.ip_src in self.quarantined:
            self.counters["quarantined_drops"] += 1
            return drop("quarantined")
        record = self.engine.process(self.now, packet)
        if record is not None:
            self._decided(record)
            if (
                self.config.offload
                and record.app not in self.config.block_apps
                and packet.ip_proto in (6, 17)
            ):
                self.offload(packet)  # classified: the rest of the flow may bypass the DPI
        if self.engine._pending:
            for event in self.engine.drain_risks():
                self._risk(event)
        if self.config.block_apps and packet.ip_version:
            app = self.flow_apps.get(packet.bidi_key())
            if app in self.config.block_apps:
                self.counters["blocked_app_drops"] += 1
                return drop("blocked_app")
        return FORWARD

    def _decided(self, record: FlowRecord) -> None:
        self.counters["classified"] += 1
        self.apps[record.app] += 1
        if self.config.block_apps and record.app in self.config.block_apps:
            key = (record.proto, record.src, record.sport, record.dst, record.dport)
            self.flow_apps[self._key_of(key)] = record.app
            if len(self.flow_apps) > 65536:
                self.flow_apps.pop(next(iter(self.flow_apps)))
        self.log.emit("flow", **record.to_json())

    @staticmethod
    def _key_of(fields: tuple) -> Any:
        from sdnlab.vnfs.packet import FlowKey

        proto, src, sport, dst, dport = fields
        return FlowKey(
            6 if proto == "TCP" else 17, ip_value(src)[0], sport, ip_value(dst)[0], dport
        ).canonical()

    def _closed_record(self, record: FlowRecord) -> None:
        pass  # decided records are logged when decided; closed ones only update the engine's ring

    def _risk(self, event: RiskEvent) -> None:
        self.counters["risks"] += 1
        fields = event.to_json()
        # the event's own ts is the packet clock (monotonic in a live engine); the log line's ts,
        # like every other event's, is the event log's Unix time: one clock in log.jsonl
        fields.pop("ts", None)
        self.log.emit("risk", **fields)
        if event.kind in self.config.quarantine_on and event.host:
            self.quarantine(event.host, f"{event.kind}: {event.detail}")

    def quarantine(self, ip: str, reason: str) -> None:
        """Quarantine a host locally and/or through the controller (once per host)."""
        value = ip_value(ip)[0]
        if value in self.quarantined:
            return
        if self.config.quarantine_local:
            self.quarantined[value] = reason
        self.log.emit(
            "quarantine",
            host=ip,
            reason=reason,
            local=self.config.quarantine_local,
            controller=bool(self.sender),
        )
        if self.sender is not None:
            self.sender.request(ip, reason)

    def _quarantine_result(self, ip: str, ok: bool, detail: str) -> None:
        self.log.emit("quarantine_result", host=ip, ok=ok, detail=detail)

    def tick(self, now: float) -> list[tuple[str, bytes]]:
        self.engine._sweep(now)
        return []

    def close(self) -> None:
        if self.sender is not None:
            self.sender.close()

    def stats(self) -> dict[str, Any]:
        return {
            "counters": dict(self.counters),
            "apps": dict(self.apps),
            "flows": self.engine.flow_count,
            "quarantined": {str(k): v for k, v in self.quarantined.items()},
            "engine": vars(self.engine.stats),
        }
