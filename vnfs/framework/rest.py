"""A VNF's REST client for the controller: JSON POSTs from a background thread in the root netns.

A VNF runs inside a lab host's network namespace, where 127.0.0.1 is the host's own loopback,
not the controller's. ``sdnlab vnf run`` hands the VNF process an open handle on the root
network namespace (``SDNLAB_ROOT_NETNS=/proc/self/fd/N``); the poster's thread joins it
(``setns`` affects only the calling thread) before it connects, so the packet path neither
blocks on HTTP nor leaves its namespace. Used by the DPI VNF's quarantine requests and the
engine's offload requests.
"""

from __future__ import annotations

import ctypes
import json
import os
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from sdnlab.controller.rest_client import auth_headers_for_url

CLONE_NEWNET = 0x40000000
ROOT_NETNS_ENV = "SDNLAB_ROOT_NETNS"


def enter_netns(path: str) -> None:
    """Move the calling thread into the network namespace at ``path``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
    finally:
        os.close(fd)


def answer_text(exc: urllib.error.HTTPError) -> str:
    """``HTTP 409: <the controller's error message>`` for an error answer."""
    try:
        message = json.loads(exc.read() or b"{}").get("error", "")
    except (ValueError, AttributeError, OSError):
        message = ""
    return f"HTTP {exc.code}: {message}" if message else f"HTTP {exc.code}"


class JsonPoster:
    """POSTs JSON objects to ``url`` one by one; ``on_result(body, ok, detail)`` reports each outcome.

    ``detail`` is ``HTTP <status>`` (with the server's ``error`` message on a refusal) or the
    connection error. Requests queue (at most ``capacity``; more are reported as ``queue full``).
    """

    def __init__(
        self,
        url: str,
        netns: str | None,
        on_result: Callable[[dict, bool, str], None],
        timeout: float = 3.0,
        name: str = "rest-poster",
        capacity: int = 1024,
    ):
        self.url = url
        self.netns = netns
        self.on_result = on_result
        self.timeout = timeout
        self.queue: queue.Queue = queue.Queue(maxsize=capacity)
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def post(self, body: dict[str, Any]) -> None:
        """Queue one request (dropped, and reported, when the queue is full)."""
        try:
            self.queue.put_nowait(body)
        except queue.Full:
            self.on_result(body, False, "queue full")

    def close(self) -> None:
        """Stop the thread once the queued requests are sent."""
        self.queue.put(None)

    def _loop(self) -> None:
        stuck = None  # why requests cannot be sent at all (then each one is reported as failed)
        if self.netns:
            try:
                enter_netns(self.netns)
            except OSError as exc:
                stuck = f"cannot enter the root network namespace ({self.netns}): {exc}"
        while True:
            body = self.queue.get()
            if body is None:
                return
            if stuck is not None:  # posting from the lab host's namespace would only be refused
                self.on_result(body, False, stuck)
                continue
            req = urllib.request.Request(
                self.url,
                data=json.dumps(body).encode(),
                method="POST",
                headers={"Content-Type": "application/json", **auth_headers_for_url(self.url)},
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    self.on_result(body, 200 <= resp.status < 300, f"HTTP {resp.status}")
            except urllib.error.HTTPError as exc:
                self.on_result(body, False, answer_text(exc))
            except OSError as exc:
                self.on_result(body, False, str(exc))
