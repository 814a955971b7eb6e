"""Waiting for what running VNFs report, instead of sleeping a fixed time.

A VNF rewrites its stats file once a second, when it gets the CPU; on a busy machine that is
later. Counters only grow, so reading again until the expected counts are there (or a deadline
passes, and the caller's assertion then shows the last reading) waits exactly as long as needed.
"""

from __future__ import annotations

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
