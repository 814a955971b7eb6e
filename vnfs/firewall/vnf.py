"""The firewall VNF: conntrack fast path, rate limits, first-match rules, reject or drop.

Per packet: non-IP frames (ARP) follow ``non_ip``, IPv6 follows ``ipv6`` (``filter`` runs it
through the same logic), non-first IP fragments follow their first fragment. Then conntrack
classifies the packet: ESTABLISHED and RELATED pass (the hot path: one table lookup),
INVALID follows ``invalid``, and a NEW packet is checked against the per-source rate limits
and then the ordered rules; an accepted NEW packet starts a tracked connection. Every rule
and the default policy keep packet/byte counters; decisions are logged per class
(``accept``, ``drop``, ``reject``, ``invalid``, ``ratelimit``, ``fragment``) as JSON lines.

Example config::

    default: drop
    rate_limits:
      - {name: telnet-scan, proto: tcp, dport: [23, 2323], rate: 1, burst: 3}
    rules:
      - {name: web, action: accept, proto: tcp, dst: 10.0.0.0/24, dport: 80}
      - {name: ping, action: accept, proto: icmp, icmp_type: 8}
      - {name: telnet, action: reject, proto: tcp, dport: [23, 2323]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sdnlab.vnfs.firewall.conntrack import ESTABLISHED, INVALID, NEW, OPEN, RELATED, ConnTracker, Timeouts
from sdnlab.vnfs.firewall.ratelimit import RateLimit, SourceBuckets, parse_rate_limit
from sdnlab.vnfs.firewall.reject import reject_reply
from sdnlab.vnfs.firewall.rules import ACTIONS, Rule, first_match, parse_rule
from sdnlab.vnfs.framework.base import VNF
from sdnlab.vnfs.framework.config import Fields, to_bool, to_choice, to_float, to_int, to_str
from sdnlab.vnfs.framework.flowtable import FlowTable
from sdnlab.vnfs.framework.verdict import FORWARD, Verdict, drop
from sdnlab.vnfs.packet import ip_text

LOG_CLASSES = ("accept", "drop", "reject", "invalid", "ratelimit", "fragment", "related")

# drops decided before the rules, each with its reason (shared constants: no allocation per packet)
_DROP_NON_IP = drop("non_ip")
_DROP_IPV6 = drop("ipv6")
_DROP_INVALID = drop("invalid")


@dataclass(frozen=True, slots=True)
class FirewallConfig:
    """The validated firewall settings."""

    rules: tuple[Rule, ...]
    default: str = "drop"
    invalid: str = "drop"
    non_ip: str = "accept"
    ipv6: str = "drop"
    fragments: str = "track"
    outside: str = ""
    rate_limits: tuple[RateLimit, ...] = ()
    max_flows: int = 262144
    timeouts: Timeouts = field(default_factory=Timeouts)
    tcp_pickup: bool = False
    offload: bool = False
    log: tuple[str, ...] = ("drop", "reject", "invalid", "ratelimit")


class Firewall(VNF):
    """Stateful firewall with connection-tracking semantics."""

    kind = "firewall"

    def parse_config(self, fields: Fields) -> FirewallConfig:
        rules: list[Rule] = []
        for i, (path, line, item) in enumerate(fields.items("rules")):
            rule = parse_rule(Fields(item, path, fields.errors, line), i)
            if rule is not None:  # a rule with errors is None; its errors are reported
                rules.append(rule)
        limits = []
        for i, (path, line, item) in enumerate(fields.items("rate_limits")):
            limits.append(parse_rate_limit(Fields(item, path, fields.errors, line), i))
        names = [r.name for r in rules]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            fields.error("rules", f"rule name {dup!r} is used twice")
        t = fields.sub("timeouts")
        base = Timeouts()
        timeouts = Timeouts(
            tcp=t.get("tcp", to_float(1), base.tcp),
            tcp_unreplied=t.get("tcp_unreplied", to_float(1), base.tcp_unreplied),
            udp=t.get("udp", to_float(1), base.udp),
            icmp=t.get("icmp", to_float(1), base.icmp),
            other=t.get("other", to_float(1), base.other),
            close=t.get("close", to_float(0), base.close),
        )
        t.reject_unknown()
        log = fields.get(
            "log",
            lambda v: tuple(to_choice(*LOG_CLASSES)(x) for x in (v if isinstance(v, list) else [v])),
            ("drop", "reject", "invalid", "ratelimit"),
            f"expected a list of: {', '.join(LOG_CLASSES)}",
        )
        outside = fields.get("outside", to_str, self.ports[-1])
        if outside not in self.ports and outside not in self.interfaces.values():
            fields.error("outside", f"unknown port {outside!r} (ports: {', '.join(self.ports)})")
        return FirewallConfig(
            rules=tuple(rules),
            default=fields.get("default", to_choice(*ACTIONS), "drop"),
            invalid=fields.get("invalid", to_choice("drop", "accept"), "drop"),
            non_ip=fields.get("non_ip", to_choice("accept", "drop"), "accept"),
            ipv6=fields.get("ipv6", to_choice("drop", "accept", "filter"), "drop"),
            fragments=fields.get("fragments", to_choice("track", "drop"), "track"),
            outside=outside,
            rate_limits=tuple(limits),
            max_flows=fields.get("max_flows", to_int(16), 262144),
            timeouts=timeouts,
            tcp_pickup=fields.get("tcp_pickup", to_bool, False),
            offload=fields.get("offload", to_bool, False),
            log=log,
        )

    def apply_config(self, cfg: FirewallConfig) -> None:
        old = getattr(self, "config", None)
        self.config = cfg
        self.rules = cfg.rules
        self.log.enabled = set(cfg.log)
        outside = cfg.outside
        for logical, iface in self.interfaces.items():
            if iface == outside:
                outside = logical
        self.outside_port = outside
        # connections survive a reload unless the table geometry changed
        if (
            old is None
            or old.max_flows != cfg.max_flows
            or old.timeouts != cfg.timeouts
            or old.tcp_pickup != cfg.tcp_pickup
        ):
            self.conntrack = ConnTracker(cfg.max_flows, cfg.timeouts, cfg.tcp_pickup)
            self.fragments = FlowTable(4096, 30.0)
        old_counters = getattr(self, "rule_counters", {})
        self.rule_counters = {r.name: old_counters.get(r.name, [0, 0]) for r in cfg.rules}
        self.default_counter = getattr(self, "default_counter", [0, 0])
        self.buckets = [SourceBuckets(limit) for limit in cfg.rate_limits]
        for name in (
            "new",
            "established",
            "related",
            "invalid",
            "accepted",
            "rejected",
            "ratelimited",
            "non_ip",
            "ipv6",
            "fragments",
        ):
            self.counters.setdefault(name, 0)

    # ----- packet path -------------------------------------------------------------------

    def handle(self, packet: Any) -> Verdict:
        counters = self.counters
        version = packet.ip_version
        if version != 4:
            if version == 0:
                counters["non_ip"] += 1
                return FORWARD if self.config.non_ip == "accept" else _DROP_NON_IP
            counters["ipv6"] += 1
            if self.config.ipv6 != "filter":
                return FORWARD if self.config.ipv6 == "accept" else _DROP_IPV6
        if packet.is_fragment:
            counters["fragments"] += 1
            if packet.frag_offset:
                return self._later_fragment(packet)
        state, conn = self.conntrack.classify(packet, self.now)
        if state is ESTABLISHED:
            counters["established"] += 1
            if (
                self.config.offload
                and conn is not None
                and not conn.offloaded
                and self._answered(packet, conn)
            ):
                conn.offloaded = True
                self.offload(packet)
            return FORWARD
        if state is RELATED:
            counters["related"] += 1
            self._log("related", packet, state)
            return FORWARD
        if state is INVALID:
            counters["invalid"] += 1
            self._log("invalid", packet, state)
            return FORWARD if self.config.invalid == "accept" else _DROP_INVALID
        counters["new"] += 1
        return self._new(packet)

    def _new(self, packet: Any) -> Verdict:
        now = self.now
        for buckets in self.buckets:
            limit = buckets.limit
            if limit.applies(packet) and not buckets.allow(packet.ip_src, now):
                self.counters["ratelimited"] += 1
                self._log("ratelimit", packet, NEW, rule=limit.name)
                if limit.action == "reject":
                    return drop("ratelimit", reject_reply(packet))
                return drop("ratelimit")
        in_port = self.in_port
        rule = first_match(
            self.rules, packet, in_port, self.interfaces.get(in_port, in_port), in_port == self.outside_port
        )
        if rule is None:
            action, name, reject_with = self.config.default, "default", "auto"
            counter = self.default_counter
        else:
            action, name, reject_with = rule.action, rule.name, rule.reject_with
            counter = self.rule_counters[name]
        counter[0] += 1
        counter[1] += len(packet.frame)
        if action == "accept":
            self.counters["accepted"] += 1
            self.conntrack.commit(packet, in_port, now)
            self._remember_fragment(packet, True)
            self._log("accept", packet, NEW, rule=name)
            return FORWARD
        self._remember_fragment(packet, False)
        if action == "reject":
            self.counters["rejected"] += 1
            self._log("reject", packet, NEW, rule=name)
            return drop("reject", reject_reply(packet, reject_with))
        self._log("drop", packet, NEW, rule=name)
        return drop("rule")

    @staticmethod
    def _answered(packet: Any, conn: Any) -> bool:
        """True once a connection is fully open: TCP past the handshake, others answered once."""
        if packet.ip_proto == 6:
            return conn.phase == OPEN
        if packet.ip_proto == 17:
            return packet.ip_src != conn.orig_src or packet.l4_src != conn.orig_sport
        return False

    # ----- fragments ---------------------------------------------------------------------

    @staticmethod
    def _fragment_key(packet: Any) -> tuple:
        l3 = packet.l3_offset
        ident = packet.frame[l3 + 4 : l3 + 6] if packet.ip_version == 4 else b""
        return (packet.ip_src, packet.ip_dst, packet.ip_proto, ident)

    def _remember_fragment(self, packet: Any, accepted: bool) -> None:
        if packet.is_fragment and self.config.fragments == "track":
            self.fragments.put(self._fragment_key(packet), accepted, self.now)

    def _later_fragment(self, packet: Any) -> Verdict:
        if self.config.fragments == "track" and self.fragments.get(self._fragment_key(packet), self.now):
            return FORWARD
        self._log("fragment", packet, INVALID)
        return drop("fragment")

    # ----- housekeeping ------------------------------------------------------------------

    def _log(self, event: str, packet: Any, state: str, **extra: Any) -> None:
        log = self.log
        if log.enabled is not None and event not in log.enabled:
            return  # cheap exit before formatting addresses
        version = packet.ip_version
        log.emit(
            event,
            state=state,
            in_port=self.in_port,
            proto=packet.ip_proto,
            src=ip_text(packet.ip_src, version),
            sport=packet.l4_src,
            dst=ip_text(packet.ip_dst, version),
            dport=packet.l4_dst,
            **extra,
        )

    def tick(self, now: float) -> list[tuple[str, bytes]]:
        self.conntrack.expire(now)
        self.fragments.expire(now)
        return []

    def stats(self) -> dict[str, Any]:
        rules = {name: {"packets": c[0], "bytes": c[1]} for name, c in self.rule_counters.items()}
        rules["default"] = {
            "packets": self.default_counter[0],
            "bytes": self.default_counter[1],
            "action": self.config.default,
        }
        return {
            "counters": dict(self.counters),
            "rules": rules,
            "connections": len(self.conntrack),
            "rate_limited_sources": {b.limit.name: len(b.table) for b in self.buckets},
        }
