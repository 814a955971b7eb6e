"""The researcher API: subclass ``VNF`` and implement ``handle(packet) -> Verdict``.

A VNF is a decision function plus state. The engine (live AF_PACKET or offline pcap) calls
``process(frame, in_port, now)``, which parses the frame with ``sdnlab.vnfs.packet.parse``,
sets ``self.in_port`` (the logical ingress port name) and ``self.now`` (seconds) and calls
``handle``. Ports are logical names: a bump-in-the-wire has two (``inside`` and ``outside``
by default) and forwards to the other one; a one-armed VNF has one and sends back out of it.

Configuration is a YAML mapping validated at the edge: ``parse_config(fields)`` turns it into
a typed object (recording every error on ``fields``), and ``apply_config(cfg)`` installs it.
Reload (SIGHUP or the control socket) runs the same two steps, so a bad file leaves the
running config untouched. Counters are a plain dict of ints; ``stats()`` adds VNF-specific
tables (per-rule, per-backend). ``self.log`` writes JSON lines.

Every drop carries a reason (``drop("rule")``); the framework's own drops are ``unparsed``
(a frame the parser rejected) and ``handler_error``. When ``handle`` raises in the live
engine the VNF keeps running: ``handler_failed`` counts the exception (``handler_errors``),
logs a rate-limited ``handler_error`` event with the line that raised, and drops the packet
(fail closed), or forwards it when the class sets ``on_handler_error = "forward"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sdnlab.vnfs.framework.config import Errors, Fields, YamlMap, load_yaml, load_yaml_text
from sdnlab.vnfs.framework.eventlog import EventLog
from sdnlab.vnfs.framework.faults import exception_text, location, source_file
from sdnlab.vnfs.framework.verdict import FORWARD, Action, Verdict, drop
from sdnlab.vnfs.packet import parse

_FORWARD = Action.FORWARD
_UNPARSED = drop("unparsed")
_HANDLER_ERROR = drop("handler_error")
HANDLER_ERROR_POLICIES = ("drop", "forward")

DEFAULT_PORTS = ("inside", "outside")


def _as_yaml_map(data: Mapping | None) -> YamlMap:
    result = YamlMap(data or {})
    result.line = getattr(data, "line", 1)
    result.key_lines = dict(getattr(data, "key_lines", {}))
    return result


class StageError(Exception):
    """A stage of a composite VNF (a ``chain``) raised while ``fail_fast`` was set: carries the
    stage's name, the stage and the original exception, so an offline run can name the stage's
    own file and line."""

    def __init__(self, name: str, vnf: VNF, original: Exception):
        super().__init__(f"stage {name!r}: {original}")
        self.name = name
        self.vnf = vnf
        self.original = original


class VNF:
    """Base class of every VNF; the default forwards everything unchanged."""

    kind: ClassVar[str] = "vnf"
    #: settings every VNF accepts (read by the framework, not by parse_config)
    FRAMEWORK_KEYS: ClassVar[set[str]] = {"ports", "workers", "log", "pass_host_frames"}
    #: the live engine's policy for a packet whose ``handle`` raised: "drop" or "forward"
    on_handler_error: ClassVar[str] = "drop"
    #: set by offline runs: a VNF made of other VNFs (a ``chain``) lets a stage's exception out
    #: as a ``StageError`` instead of applying the stage's live policy and going on
    fail_fast: bool = False

    def __init__(
        self,
        config: Mapping | str | None = None,
        *,
        name: str | None = None,
        ports: tuple[str, ...] = DEFAULT_PORTS,
        interfaces: Mapping[str, str] | None = None,
        log: EventLog | None = None,
        source: str = "<config>",
    ):
        self.name = name or self.kind
        self.ports = tuple(ports)
        #: logical port name -> Linux interface name (identity offline)
        self.interfaces = dict(interfaces) if interfaces else {p: p for p in self.ports}
        self.in_port = self.ports[0]
        self.now = 0.0
        self.counters: dict[str, int] = {"packets": 0, "forwarded": 0, "dropped": 0, "parse_errors": 0}
        self.log = log or EventLog(self.name)
        self.source = source
        #: flows this VNF asked to hand over to the switch, as (directional 5-tuple, action);
        #: the engine drains the list after each batch (see ``offload``)
        self.offload_requests: list[tuple[Any, str, dict]] = []
        self.apply_config(self.validate(config, source))

    # ----- configuration -------------------------------------------------------------

    def validate(self, config: Mapping | str | None, source: str = "<config>") -> Any:
        """Check a config (mapping, YAML text or None) and return the typed object for it."""
        data = load_yaml_text(config, source) if isinstance(config, str) else _as_yaml_map(config)
        errors = Errors(source)
        fields = Fields(data, "", errors)
        cfg = self.parse_config(fields)
        fields.reject_unknown(self.FRAMEWORK_KEYS)
        errors.raise_if_any()
        return cfg

    def reload_file(self, path: str) -> None:
        """Validate the YAML file and, only if it is valid, apply it."""
        cfg = self.validate(load_yaml(path), str(path))
        self.apply_config(cfg)
        self.log.emit("reload", source=str(path))

    def parse_config(self, fields: Fields) -> Any:
        """Read this VNF's settings from ``fields`` into a typed object (override)."""
        return None

    def apply_config(self, cfg: Any) -> None:
        """Install a validated config; keep per-flow state where it still makes sense (override)."""

    # ----- packet path ---------------------------------------------------------------

    def process(self, frame: bytes, in_port: str, now: float) -> Verdict:
        """Engine entry point: parse, set the context, call ``handle`` and count the result."""
        try:
            packet = parse(frame)
        except Exception:
            packet = None
        return self.process_parsed(frame, packet, in_port, now)

    def process_parsed(self, frame: bytes, packet: Any, in_port: str, now: float) -> Verdict:
        """``process`` for a frame someone already parsed (``packet`` is None when the parser
        rejected it): a chain of VNFs in one process parses each frame once for all of them."""
        counters = self.counters
        counters["packets"] += 1
        self.in_port = in_port
        self.now = now
        if packet is None:
            counters["parse_errors"] += 1
            verdict = self.handle_unparsed(frame)
        else:
            verdict = self.handle(packet)
        if verdict.action is _FORWARD:
            counters["forwarded"] += 1
        else:
            counters["dropped"] += 1
        return verdict

    def handle(self, packet: Any) -> Verdict:
        """Decide the fate of one parsed packet (override)."""
        return FORWARD

    def handle_unparsed(self, frame: bytes) -> Verdict:
        """Decide for a frame the parser rejected; the default drops it (reason ``unparsed``)."""
        return _UNPARSED

    def handler_failed(self, exc: Exception) -> Verdict:
        """The live engine's answer when ``process`` raised: count, log (rate limited), apply the policy."""
        counters = self.counters
        counters["handler_errors"] = counters.get("handler_errors", 0) + 1
        forwards = self.on_handler_error == "forward"
        counters["forwarded" if forwards else "dropped"] += 1
        self.log.emit(
            "handler_error",
            error=exception_text(exc),
            at=location(exc, source_file(type(self))),
            in_port=self.in_port,
            packet=counters["packets"],
            policy=self.on_handler_error,
        )
        return FORWARD if forwards else _HANDLER_ERROR

    def tick(self, now: float) -> list[tuple[str, bytes]]:
        """Periodic work (about once a second): expire state; return frames to send as (port, frame)."""
        return []

    def stats(self) -> dict[str, Any]:
        """Counters and VNF-specific tables for ``sdnlab vnf status``."""
        return {"counters": dict(self.counters)}

    def close(self) -> None:
        """Release resources (threads, sockets) before the process exits."""

    # ----- helpers for subclasses ----------------------------------------------------

    def offload(self, packet: Any, action: str = "bypass", **params: Any) -> None:
        """Ask for the packet's flow (both directions) to be handled by the switch from now on.

        ``bypass`` steers the flow around this VNF; ``rewrite`` (with ``params``) asks the switch
        to do this VNF's header rewrites itself (the LB's NAT). The live engine writes the request to
        ``offload.jsonl`` in the VNF's state folder, where a steering agent (the controller,
        or the testbed's ``OffloadAgent``) picks it up; offline the requests are only counted.
        """
        if len(self.offload_requests) < 4096:
            self.offload_requests.append((packet.flow_key(), action, params))
        self.counters["offloaded"] = self.counters.get("offloaded", 0) + 1

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the named counter."""
        self.counters[name] = self.counters.get(name, 0) + n

    def egress(self, in_port: str | None = None) -> str:
        """The default egress port for a packet that arrived on ``in_port``."""
        port = self.in_port if in_port is None else in_port
        if len(self.ports) == 1:
            return port
        return self.ports[1] if port == self.ports[0] else self.ports[0]
