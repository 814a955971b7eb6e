"""Quarantine requests to the controller: ``POST /sdnlab/quarantine`` from a background thread.

The thread lives in the root network namespace, where the controller listens (see
``sdnlab.vnfs.framework.rest``), so the packet path never blocks on HTTP.
"""

from __future__ import annotations

from collections.abc import Callable

from sdnlab.vnfs.framework.rest import JsonPoster


class QuarantineSender:
    """Sends quarantine requests one by one; ``on_result(ip, ok, detail)`` reports each outcome."""

    def __init__(
        self, url: str, netns: str | None, on_result: Callable[[str, bool, str], None], timeout: float = 3.0
    ):
        self.url = url.rstrip("/") + "/sdnlab/quarantine"
        self.on_result = on_result
        self.poster = JsonPoster(self.url, netns, self._result, timeout=timeout, name="dpi-quarantine")

    def request(self, ip: str, reason: str) -> None:
        """Queue a request (dropped, and reported, when the queue is full)."""
        self.poster.post({"ip": ip, "reason": reason})

    def close(self) -> None:
        """Stop the sender thread."""
        self.poster.close()

    def _result(self, body: dict, ok: bool, detail: str) -> None:
        self.on_result(body.get("ip", ""), ok, detail)
