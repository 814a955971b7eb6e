"""The live engine: moves frames between a VNF's ports and its ``process`` decisions.

One worker owns one socket per port (or a TPACKET_V3 ring per port in ``ring`` mode). It
waits until a port is readable, takes up to ``batch`` frames from it, lets the VNF decide
each one and sends the results, then does its housekeeping about once a second: the VNF's
``tick`` (timeouts, health), a config reload when SIGHUP arrived, and the stats file that
``sdnlab vnf status`` reads. Frames addressed to the host's own MAC on a port are left to
the kernel unless ``pass_host_frames`` is set (they are the host's traffic, not the wire's).

The VNF's own code never stops the worker: an exception from ``process`` (the VNF's
``handle``) goes to ``VNF.handler_failed`` (counted as ``handler_errors``, logged rate limited,
the packet dropped or forwarded per the VNF's ``on_handler_error``); one from ``tick`` is
counted as ``tick_errors`` and logged as ``tick_error``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sdnlab.jsonio import write_atomic
from sdnlab.vnfs.framework.afpacket import Readiness, RxRing, TxRing, interface_mac, open_port_socket
from sdnlab.vnfs.framework.base import VNF
from sdnlab.vnfs.framework.faults import exception_text, location, source_file
from sdnlab.vnfs.framework.verdict import Action
from sdnlab.vnfs.packet import ip_text

_FORWARD = Action.FORWARD

#: how a worker reads and writes frames (see ``open_ports``)
MODES = ("recv", "rxring", "txring", "ring")


@dataclass
class PortIO:
    """One port of one worker: its logical name, interface, socket and optional ring."""

    name: str
    ifname: str
    sock: socket.socket
    mac: bytes
    ring: RxRing | None = None
    tx_ring: TxRing | None = None
    rx: int = 0
    tx: int = 0
    tx_errors: int = 0
    host_frames: int = 0

    def counters(self) -> dict:
        """Port counters for the stats file."""
        return {
            "interface": self.ifname,
            "rx": self.rx,
            "tx": self.tx,
            "tx_errors": self.tx_errors,
            "host_frames": self.host_frames,
        }


@dataclass
class Worker:
    """The packet loop of one process over its ports."""

    vnf: VNF
    ports: dict[str, PortIO]
    batch: int = 64
    pass_host_frames: bool = False
    stats_path: Path | None = None
    offload_path: Path | None = None
    offload_sink: Callable[[dict], None] | None = None  # must not block: it runs on the packet path
    config_path: str | None = None
    clock: Callable[[], float] = time.monotonic
    reload_requested: bool = False
    stop_requested: bool = False
    started: float = field(default_factory=time.time)

    def send(self, port: PortIO, frame: bytes) -> None:
        """Transmit one frame on a port, counting failures (a full queue drops, like a NIC)."""
        ring = port.tx_ring
        if ring is not None:
            if ring.put(frame):
                port.tx += 1
                return
            ring.flush()  # full: push what is queued, then fall back to a plain send
        try:
            port.sock.send(frame)
            port.tx += 1
        except OSError:
            port.tx_errors += 1

    def dispatch(self, port: PortIO, frames: list[bytes], now: float) -> None:
        """Decide and emit a batch of frames that arrived on ``port``."""
        vnf = self.vnf
        ports = self.ports
        name = port.name
        default_out = ports[vnf.egress(name)]
        own_mac = None if self.pass_host_frames else port.mac
        port.rx += len(frames)
        for frame in frames:
            if own_mac is not None and frame.startswith(own_mac):
                port.host_frames += 1
                continue
            try:
                verdict = vnf.process(frame, name, now)
            except Exception as exc:
                verdict = vnf.handler_failed(exc)
            if verdict.action is _FORWARD:
                out = default_out if verdict.port is None else ports.get(verdict.port)
                if out is None:
                    self.unknown_port(verdict.port)
                else:
                    self.send(out, frame if verdict.frame is None else verdict.frame)
            for out_name, extra in verdict.extra:
                out = port if out_name is None else ports.get(out_name)
                if out is None:
                    self.unknown_port(out_name)
                else:
                    self.send(out, extra)
        for out in ports.values():
            if out.tx_ring is not None and out.tx_ring.pending:
                out.tx_ring.flush()
        if vnf.offload_requests:
            self.write_offloads()

    def unknown_port(self, name: str | None) -> None:
        """A verdict named a port the VNF does not have: the frame is not sent (counted, logged)."""
        self.vnf.count("unknown_port_frames")
        self.vnf.log.emit("unknown_port", port=name, ports=list(self.ports))

    def write_offloads(self) -> None:
        """Hand the VNF's offload requests on: JSON lines appended to the offload file, and each
        request to ``offload_sink`` (the controller's REST API in labs) when there is one."""
        requests, self.vnf.offload_requests = self.vnf.offload_requests, []
        if self.offload_path is None and self.offload_sink is None:
            return
        lines = [offload_record(self.vnf.name, key, action, params) for key, action, params in requests]
        if self.offload_path is not None:
            with open(self.offload_path, "a") as handle:
                handle.writelines(json.dumps(line) + "\n" for line in lines)
        if self.offload_sink is not None:
            for line in lines:
                self.offload_sink(line)

    def receive(self, port: PortIO) -> list[bytes]:
        """Up to ``batch`` frames waiting on a port (ring blocks or socket reads)."""
        if port.ring is not None:
            frames: list[bytes] = []
            for block in port.ring.blocks():
                frames.extend(block)
            return frames
        frames = []
        recv = port.sock.recv
        for _ in range(self.batch):
            try:
                frames.append(recv(65535))
            except BlockingIOError:
                break
            except OSError:
                break
        return frames

    def run(self) -> None:
        """Loop until SIGTERM/SIGINT (or ``stop_requested``)."""
        by_sock = {p.sock: p for p in self.ports.values()}
        readiness = Readiness(list(by_sock))
        next_tick = self.clock() + 1.0
        if hasattr(self.vnf, "start"):
            self.vnf.start()
        self.write_stats()
        while not self.stop_requested:
            now = self.clock()
            if now >= next_tick:
                self.housekeeping(now)
                next_tick = now + 1.0
            try:
                readable = readiness.wait(max(0.0, next_tick - now))
            except InterruptedError:
                continue
            for sock in readable:
                port = by_sock[sock]
                frames = self.receive(port)
                if frames:
                    self.dispatch(port, frames, self.clock())
        readiness.close()
        self.write_stats()
        self.vnf.close()

    def housekeeping(self, now: float) -> None:
        """Once a second: VNF tick, pending reload, stats file."""
        try:
            frames = self.vnf.tick(now)
        except Exception as exc:
            frames = []
            self.vnf.count("tick_errors")
            self.vnf.log.emit(
                "tick_error", error=exception_text(exc), at=location(exc, source_file(type(self.vnf)))
            )
        for port_name, frame in frames:
            self.send(self.ports[port_name], frame)
        for port in self.ports.values():
            if port.tx_ring is not None:
                port.tx_ring.flush()
        if self.reload_requested:
            self.reload_requested = False
            if self.config_path:
                try:
                    self.vnf.reload_file(self.config_path)
                except Exception as exc:
                    self.vnf.log.emit("reload_failed", error=str(exc))
        self.write_stats()

    def write_stats(self) -> None:
        """Write counters atomically to the stats file, if there is one."""
        if self.stats_path is None:
            return
        payload = {
            "pid": os.getpid(),
            "kind": self.vnf.kind,
            "name": self.vnf.name,
            "started": self.started,
            "updated": time.time(),
            "ports": {n: p.counters() for n, p in self.ports.items()},
            **self.vnf.stats(),
        }
        write_atomic(self.stats_path, payload, indent=None, sort_keys=False)

    def install_signals(self) -> None:
        """SIGHUP reloads the config; SIGTERM and SIGINT stop the loop."""

        def on_hup(signum, frame):
            self.reload_requested = True

        def on_stop(signum, frame):
            self.stop_requested = True

        signal.signal(signal.SIGHUP, on_hup)
        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)


def offload_record(vnf_name: str, key, action: str, params: dict) -> dict:
    """One offload request as JSON: ``{vnf, action, proto, src, sport, dst, dport, **params}``."""
    version = 6 if max(key.ip_src, key.ip_dst) > 0xFFFFFFFF else 4
    return {
        "vnf": vnf_name,
        "action": action,
        "proto": key.ip_proto,
        "src": ip_text(key.ip_src, version),
        "sport": key.l4_src,
        "dst": ip_text(key.ip_dst, version),
        "dport": key.l4_dst,
        **params,
    }


def open_ports(interfaces: dict[str, str], workers: int, mode: str = "recv") -> list[dict[str, PortIO]]:
    """Sockets for every worker and port, joined to one fanout group per port when workers > 1."""
    base = (os.getpid() * 7) & 0xFFF0
    result: list[dict[str, PortIO]] = [{} for _ in range(workers)]
    for index, (name, ifname) in enumerate(interfaces.items()):
        mac = interface_mac(ifname)
        group = (base + index) & 0xFFFF if workers > 1 else None
        for w in range(workers):  # created in worker order: fanout index i maps to worker i
            sock, ring = open_port_socket(ifname, group, ring=mode in ("ring", "rxring"))
            tx_ring = TxRing(ifname) if mode in ("ring", "txring") else None
            result[w][name] = PortIO(name, ifname, sock, mac, ring, tx_ring)
    return result
