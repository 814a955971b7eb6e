"""A service chain in one process: several VNFs run back to back on each frame (kind ``chain``).

Steering a flow through three VNF hosts costs four switch crossings and three trips through
user space per packet; a chain host is one waypoint for the switch (or the controller's
service-chaining app) and runs its stages run-to-completion, the way NFV platforms that
consolidate a chain on one server do. The frame is parsed once and the parsed packet is
shared by every stage until one of them rewrites the frame.

A chain host is a bump in the wire (two ports, ``inside`` and ``outside``): the port a frame
enters says which way it goes, so a one-armed chain is refused.

Config (YAML)::

    stages:
      - {kind: firewall, config: firewall.yaml}   # a file, relative to this one
      - {kind: dpi, name: inspect}
      - kind: lb
        config: {vip: 10.0.0.100, backends: [...]} # or the stage's settings inline

A stage is a built-in kind or a researcher's ``.py`` file, with an optional ``name`` (default:
its kind; names are unique) and ``config``. Frames entering on the first port (``inside``) run
the stages in order; frames entering on another port run them in reverse, so a flow's return
traffic meets the stages mirrored, as it would on a steered chain.

What each stage decides:

- forward (unchanged or rewritten): the next stage gets the frame; a rewrite is parsed again;
- drop: the chain stops and drops; the stage's replies (a TCP RST, an ARP reply) leave by the
  port the frame came in on, as they would from that stage on its own host;
- forward out of a named port other than the default egress: the chain stops there and sends.

Frames a stage emits from ``tick`` (the LB's health checks) go out of the port they name.
Every stage keeps its own counters, tables and log lines (``vnf`` is ``CHAIN/STAGE``); the
chain's ``stats`` nests them under ``stages``. A stage's offload requests are not passed on:
the chain host inspects every packet (counted as ``offload_ignored``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdnlab.errors import SdnlabError
from sdnlab.vnfs.errors import VnfOptionError
from sdnlab.vnfs.framework.base import DEFAULT_PORTS, VNF, StageError
from sdnlab.vnfs.framework.config import Fields, YamlMap, load_yaml, to_str
from sdnlab.vnfs.framework.eventlog import EventLog
from sdnlab.vnfs.framework.faults import exception_text, location, source_file
from sdnlab.vnfs.framework.verdict import Action, Verdict
from sdnlab.vnfs.packet import parse

_FORWARD = Action.FORWARD


@dataclass
class StageSpec:
    """One validated stage: the instance to run and, when it is a running stage that a reload
    keeps, the settings it takes (validated by that stage)."""

    name: str
    vnf: VNF
    kept: bool = False  # a running stage (same name, same code): apply ``cfg`` to it
    cfg: Any = None


class ChainVNF(VNF):
    """Runs its stages one after the other on every frame."""

    kind = "chain"

    def __init__(self, config: Any = None, **kwargs: Any):
        ports = tuple(kwargs.get("ports") or DEFAULT_PORTS)
        if len(ports) < 2:
            raise VnfOptionError(
                f"a chain VNF needs two ports, inside and outside (got {', '.join(ports)}): it tells a "
                "flow's return traffic by the port it enters, which a one-armed host cannot"
            )
        super().__init__(config, **kwargs)

    def validate(self, config: Any, source: str = "<config>") -> list[StageSpec]:
        self._built: list[VNF] = []
        try:
            return super().validate(config, source)
        except BaseException:
            for vnf in self._built:  # stages built before another part of the config failed
                vnf.close()
            raise

    def parse_config(self, fields: Fields) -> list[StageSpec]:
        from sdnlab.vnfs.framework.loader import build_vnf, load_vnf_class, validate_settings

        base = Path(self.source).parent if self.source and not self.source.startswith("<") else Path.cwd()
        items = fields.items("stages")
        if not fields.data.get("stages"):  # absent or empty (a non-list got its own error)
            fields.error(
                "stages",
                "a chain needs at least one stage: a list of {kind, name, config} "
                "(the chain kind takes a config file, e.g. --config chain.yaml)",
            )
        specs: list[StageSpec] = []
        names: set[str] = set()
        # a .py file is loaded once per content: its stages share the class, a reload keeps it
        # while the file is unchanged and loads the new code (rebuilding the stage) when it changed
        classes: dict[tuple, type[VNF]] = self.__dict__.setdefault("_classes", {})
        running = dict(getattr(self, "stages", []))  # empty until the first config is applied
        for path, line, item in items:
            stage = Fields(item, path, fields.errors, line)
            if not isinstance(item, Mapping):
                continue  # "expected a mapping" is recorded
            kind = stage.get("kind", to_str)
            name = stage.get("name", to_str, None)
            config = stage.data.get("config")
            stage.get("config", lambda v: v, None)
            stage.reject_unknown()
            if kind is None:
                continue
            if kind == self.kind:
                stage.error("kind", "a chain cannot contain a chain (list its stages instead)")
                continue
            kind_ref = str(base / kind) if kind.endswith(".py") and not Path(kind).is_absolute() else kind
            name = name or Path(kind).stem
            if name in names:
                stage.error(
                    "name" if "name" in stage.data else "kind",
                    f"two stages are named {name!r}; give each a distinct name",
                )
                continue
            names.add(name)
            try:
                key = (kind_ref, _digest(kind_ref))
                cls = classes.get(key) or classes.setdefault(key, load_vnf_class(kind_ref))
                data, source = self._stage_settings(config, base)
                old = running.get(name)
                if old is not None and type(old) is cls:  # a reload keeps it: only check its settings
                    specs.append(StageSpec(name, old, kept=True, cfg=validate_settings(old, data, source)))
                    continue
                vnf = build_vnf(
                    cls,
                    data,
                    name=f"{self.name}/{name}",
                    ports=self.ports,
                    interfaces=self.interfaces,
                    log=EventLog(f"{self.name}/{name}", self.log.stream),
                    source=source,
                )
            except SdnlabError as exc:
                fields.errors.add(line, path, f"stage {name!r}: {exc}")
                continue
            self._built.append(vnf)
            specs.append(StageSpec(name, vnf))
        return specs

    def _stage_settings(self, config: Any, base: Path) -> tuple[Any, str]:
        """A stage's settings and their source: a file (relative to the chain's), inline, or none."""
        if config is None:
            return None, self.source
        if isinstance(config, str):
            path = Path(config) if Path(config).is_absolute() else base / config
            return load_yaml(path), str(path)
        if isinstance(config, Mapping):
            return config if isinstance(config, YamlMap) else YamlMap(config), self.source
        raise SdnlabError("config: expected a file name or a mapping of the stage's settings")

    def apply_config(self, cfg: list[StageSpec]) -> None:
        # a reload: a kept stage (same name and code) takes its new settings and keeps its flows;
        # a new stage, or one whose .py file changed, starts fresh; stages no longer listed close
        kept = {id(spec.vnf) for spec in cfg if spec.kept}
        for _name, vnf in getattr(self, "stages", []):
            if id(vnf) not in kept:
                vnf.close()
        for spec in cfg:
            if spec.kept:
                spec.vnf.apply_config(spec.cfg)
            elif getattr(self, "started", False) and hasattr(spec.vnf, "start"):
                spec.vnf.start()
        self.stages = [(spec.name, spec.vnf) for spec in cfg]
        # (name, stage, takes the shared parsed packet): a stage that overrides ``process`` parses itself
        self.forward_order = [(name, vnf, type(vnf).process is VNF.process) for name, vnf in self.stages]
        self.reverse_order = self.forward_order[::-1]
        self.counters.setdefault("offload_ignored", 0)

    # ----- packet path -------------------------------------------------------------------

    def process(self, frame: bytes, in_port: str, now: float) -> Verdict:
        counters = self.counters
        counters["packets"] += 1
        self.in_port = in_port
        self.now = now
        try:
            packet = parse(frame)
        except Exception:
            packet = None
            counters["parse_errors"] += 1
        egress = self.egress(in_port)
        stages = self.forward_order if in_port == self.ports[0] else self.reverse_order
        current = frame
        extra: tuple = ()
        port = None
        for name, vnf, shares_parse in stages:
            try:
                if shares_parse:
                    verdict = vnf.process_parsed(current, packet, in_port, now)
                else:
                    verdict = vnf.process(current, in_port, now)
            except Exception as exc:
                if self.fail_fast:
                    raise StageError(name, vnf, exc) from exc
                verdict = vnf.handler_failed(exc)
            if verdict.extra:
                extra += verdict.extra
            if verdict.action is not _FORWARD:
                counters["dropped"] += 1
                return (
                    verdict
                    if not extra or extra is verdict.extra
                    else Verdict(verdict.action, verdict.port, verdict.frame, extra, verdict.reason)
                )
            if verdict.frame is not None and verdict.frame is not current:
                current = verdict.frame
                try:
                    packet = parse(current)
                except Exception:
                    packet = None
            if verdict.port is not None and verdict.port != egress:
                port = verdict.port  # the stage sends it out of another port: the chain ends here
                break
        counters["forwarded"] += 1
        if current is frame and port is None and not extra:
            return _PASS
        return Verdict(Action.FORWARD, port, None if current is frame else current, extra)

    def tick(self, now: float) -> list[tuple[str, bytes]]:
        frames: list[tuple[str, bytes]] = []
        for name, vnf in self.stages:
            try:
                frames.extend(vnf.tick(now))
            except Exception as exc:
                if self.fail_fast:
                    raise StageError(name, vnf, exc) from exc
                vnf.count("tick_errors")
                vnf.log.emit(
                    "tick_error", error=exception_text(exc), at=location(exc, source_file(type(vnf)))
                )
            if vnf.offload_requests:
                self.counters["offload_ignored"] += len(vnf.offload_requests)
                vnf.offload_requests = []
        return frames

    def start(self) -> None:
        """Start the stages' background work (the LB's health checks)."""
        self.started = True
        for _name, vnf in self.stages:
            if hasattr(vnf, "start"):
                vnf.start()

    def close(self) -> None:
        for _name, vnf in getattr(self, "stages", []):
            vnf.close()

    def stats(self) -> dict[str, Any]:
        return {"counters": dict(self.counters), "stages": {name: vnf.stats() for name, vnf in self.stages}}


_PASS = Verdict(Action.FORWARD)


def _digest(kind_ref: str) -> str | None:
    """A researcher file's content hash (None for built-in kinds or an unreadable file)."""
    if not kind_ref.endswith(".py"):
        return None
    try:
        return hashlib.sha256(Path(kind_ref).read_bytes()).hexdigest()
    except OSError:
        return None  # load_vnf_class reports it
