"""JSON-lines event logs for VNFs, rate limited per event class.

Each line is one JSON object: ``{"ts": ..., "vnf": NAME, "event": CLASS, ...fields}``. A
class that fires more than ``burst`` times in one second is suppressed for the rest of that
second and the number suppressed is reported on its next line (``"suppressed": N``), so a
flood of drops cannot fill the disk or slow the hot path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import IO, Any

#: framework events logged whatever classes a VNF enables
ALWAYS = frozenset(
    (
        "start",
        "stop",
        "reload",
        "reload_failed",
        "health",
        "quarantine",
        "handler_error",
        "tick_error",
        "unknown_port",
        "offload_refused",
    )
)


class EventLog:
    """Writes JSON lines to a text stream (or keeps them in ``lines`` when none is given)."""

    def __init__(
        self, vnf: str, stream: IO[str] | None = None, burst: int = 50, clock: Callable[[], float] = time.time
    ):
        self.vnf = vnf
        self.stream = stream
        self.burst = burst
        self.clock = clock
        self.lines: list[dict] = []
        self.keep = 1000  # lines kept in memory when there is no stream (tests, offline runs)
        self._window: dict[str, list[int]] = {}  # event -> [second, count, suppressed]
        self.enabled: set[str] | None = None  # None = every class

    def emit(self, event: str, **fields: Any) -> None:
        """Log one event of class ``event`` unless that class is disabled or over its burst."""
        if self.enabled is not None and event not in self.enabled and event not in ALWAYS:
            return
        now = self.clock()
        second = int(now)
        window = self._window.get(event)
        if window is None or window[0] != second:
            suppressed = window[2] if window else 0
            window = self._window[event] = [second, 0, 0]
        else:
            suppressed = 0
        window[1] += 1
        if window[1] > self.burst:
            window[2] += 1
            return
        record = {"ts": round(now, 6), "vnf": self.vnf, "event": event, **fields}
        if suppressed:
            record["suppressed"] = suppressed
        if self.stream is None:
            if len(self.lines) < self.keep:
                self.lines.append(record)
            return
        self.stream.write(json.dumps(record, default=str) + "\n")
        self.stream.flush()
