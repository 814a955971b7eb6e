"""Waiting for a live network or controller to reach a state, instead of sleeping a fixed time.

Shared by the live Ryu book tests (``tests/integration/ryubook``) and the other helpers here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.25,
    detail: Callable[[], object] | None = None,
) -> Any:
    """``predicate()``'s first truthy value, asked every ``interval`` s and once more at ``timeout``.

    Past the deadline, ``AssertionError("not <what> after <timeout> s")``, followed by ``detail()``
    (what the network showed last: port states, the controller's log) when given."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} after {timeout} s" + (f": {detail()}" if detail else ""))
        time.sleep(interval)
