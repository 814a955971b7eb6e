"""Waiting for what running VNFs report, instead of sleeping a fixed time.

A VNF rewrites its stats file once a second, when it gets the CPU; on a busy machine that is
later. Counters only grow, so reading again until the expected counts are there (or a deadline
passes, and the caller's assertion then shows the last reading) waits exactly as long as needed.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(read: Callable[[], T], holds: Callable[[T], bool], timeout: float = 15.0) -> T:
    """``read()`` until ``holds`` of the value is true or ``timeout`` passed; the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if time.monotonic() > deadline:
            return value
        try:
            if holds(value):
                return value
        except (KeyError, TypeError):  # a counter not written yet
            pass
        time.sleep(0.2)


Run = Callable[[list[str]], subprocess.CompletedProcess]


def wait_listening(run: Run, port: int, timeout: float = 30.0) -> None:
    """Wait until a TCP server listens on ``port`` where ``run(argv)`` runs commands (a lab host)."""
    deadline = time.monotonic() + timeout
    while not run(["ss", "-Hltn", f"sport = :{port}"]).stdout.strip():
        assert time.monotonic() < deadline, f"nothing listens on port {port} after {timeout} s"
        time.sleep(0.1)
