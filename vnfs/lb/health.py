"""Backend health checks: TCP connect or HTTP GET, every ``interval``, with fall/rise counts.

``HealthState.observe`` is the pure part: a backend goes down after ``fall`` consecutive
failed probes ("retries") and comes back after ``rise`` consecutive good ones. The probes use
the kernel's sockets of the host the VNF runs in, so that host needs an address that reaches
the backends. ``HealthChecker`` runs the probes in one daemon thread and calls back when a
backend's health changes; the packet path never waits for it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sdnlab.vnfs.lb.pool import BackendState


@dataclass(frozen=True, slots=True)
class HealthCheck:
    """How backends are probed."""

    type: str = "none"  # none | tcp | http
    interval: float = 2.0
    timeout: float = 1.0
    fall: int = 3
    rise: int = 2
    port: int | None = None  # None: the backend's port, else the VIP port
    path: str = "/"
    host: str = ""
    expect_status: tuple[int, int] = (200, 399)


class HealthState:
    """Consecutive probe results of one backend and the up/down decision."""

    __slots__ = ("fails", "passes", "up")

    def __init__(self, up: bool = True):
        self.up = up
        self.fails = 0
        self.passes = 0

    def observe(self, ok: bool, check: HealthCheck) -> bool:
        """Record one probe result; returns True when the backend's health changed."""
        if ok:
            self.passes += 1
            self.fails = 0
            if not self.up and self.passes >= check.rise:
                self.up = True
                return True
        else:
            self.fails += 1
            self.passes = 0
            if self.up and self.fails >= check.fall:
                self.up = False
                return True
        return False


def probe_tcp(ip: str, port: int, timeout: float) -> tuple[bool, str]:
    """Open and close a TCP connection; (ok, detail)."""
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return True, "connected"
    except OSError as exc:
        return False, exc.strerror or type(exc).__name__


def probe_http(ip: str, port: int, check: HealthCheck) -> tuple[bool, str]:
    """Send ``GET path`` and judge the status code; (ok, detail)."""
    host = check.host or ip
    request = (
        f"GET {check.path} HTTP/1.0\r\nHost: {host}\r\n"
        "User-Agent: sdnlab-lb-health\r\nConnection: close\r\n\r\n"
    )
    try:
        with socket.create_connection((ip, port), timeout=check.timeout) as sock:
            sock.sendall(request.encode())
            head = sock.recv(128)
    except OSError as exc:
        return False, exc.strerror or type(exc).__name__
    return judge_http(head, check.expect_status)


def judge_http(head: bytes, expect: tuple[int, int]) -> tuple[bool, str]:
    """Judge the first bytes of an HTTP response against the expected status range."""
    parts = head.split(b"\r\n", 1)[0].split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return False, "no HTTP status line"
    status = int(parts[1])
    return expect[0] <= status <= expect[1], f"HTTP {status}"


class HealthChecker:
    """Probes every backend in a daemon thread; ``on_change(state, up)`` on each transition."""

    def __init__(
        self,
        check: HealthCheck,
        backends: Sequence[BackendState],
        default_port: int | None,
        on_change: Callable[[BackendState, bool], None],
    ):
        self.check = check
        self.backends = list(backends)
        self.default_port = default_port
        self.on_change = on_change
        self.states = {b.name: HealthState(b.healthy) for b in self.backends}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def probe(self, backend: BackendState) -> tuple[bool, str]:
        """Probe one backend once."""
        check = self.check
        port = check.port or backend.backend.port or self.default_port or 80
        if check.type == "http":
            return probe_http(backend.backend.ip, port, check)
        return probe_tcp(backend.backend.ip, port, check.timeout)

    def run_once(self) -> None:
        """Probe every backend once and apply the results."""
        for backend in self.backends:
            ok, detail = self.probe(backend)
            backend.last_check = detail
            if self.states[backend.name].observe(ok, self.check):
                self.on_change(backend, self.states[backend.name].up)

    def start(self) -> None:
        """Start probing in the background."""
        if self.check.type == "none" or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="lb-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop probing (waits at most one probe timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.check.timeout * 2 + 1)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.run_once()
            self._stop.wait(max(0.0, self.check.interval - (time.monotonic() - started)))
