"""Quarantine requests to the controller: ``POST /sdnlab/quarantine`` from a background thread.

A VNF runs inside a lab host's network namespace, where 127.0.0.1 is the host's own loopback,
not the controller's. ``sdnlab vnf run`` hands the VNF process an open handle on the root
network namespace (``SDNLAB_ROOT_NETNS=/proc/self/fd/N``), and the sender thread joins it
(``setns`` affects only the calling thread) before it connects, so the packet path neither
blocks on HTTP nor leaves its namespace.
"""

from __future__ import annotations

import ctypes
import json
import os
import queue
import threading
import urllib.request
from collections.abc import Callable

CLONE_NEWNET = 0x40000000


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


class QuarantineSender:
    """Sends quarantine requests one by one; ``on_result(ip, ok, detail)`` reports each outcome."""

    def __init__(self, url: str, netns: str | None, on_result: Callable[[str, bool, str], None], timeout: float = 3.0):
        self.url = url.rstrip("/") + "/sdnlab/quarantine"
        self.netns = netns
        self.on_result = on_result
        self.timeout = timeout
        self.queue: queue.Queue = queue.Queue(maxsize=1024)
        self.thread = threading.Thread(target=self._loop, name="dpi-quarantine", daemon=True)
        self.thread.start()

    def request(self, ip: str, reason: str) -> None:
        """Queue a request (dropped, and reported, when the queue is full)."""
        try:
            self.queue.put_nowait((ip, reason))
        except queue.Full:
            self.on_result(ip, False, "queue full")

    def close(self) -> None:
        """Stop the sender thread."""
        self.queue.put(None)

    def _loop(self) -> None:
        if self.netns:
            try:
                enter_netns(self.netns)
            except OSError as exc:
                self.on_result("", False, f"cannot enter {self.netns}: {exc}")
        while True:
            item = self.queue.get()
            if item is None:
                return
            ip, reason = item
            body = json.dumps({"ip": ip, "reason": reason}).encode()
            req = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    self.on_result(ip, 200 <= resp.status < 300, f"HTTP {resp.status}")
            except OSError as exc:
                self.on_result(ip, False, str(exc))
