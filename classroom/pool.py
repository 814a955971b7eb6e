"""The warm pool: sandboxes started ahead of the trainees, so that a lab start takes one that is ready.

Starting a lab sandbox is CPU-bound work on the host (building the network: a few hundred short
``ip``/``tc``/``ovs-ofctl`` processes, a supervisor, a controller), about 1.5 CPU-seconds each;
twenty trainees pressing "start" together on a 2-core host wait for all of it. With a pool
(``sdnlab serve --warm smart_meters=20``) that work is done before the class arrives.

- **Targets** per lab: ``parse_targets("smart_meters=4,static_flows=2")``.
- **Filling**: ``reserve()`` names one sandbox for the lab furthest below its target and
  ``fill()`` starts it. The server's filler thread does this one sandbox at a time, and
  reserves only while the host is below its cap on sandboxes and no trainee's start or
  grading is in flight (checked and reserved under the server's start lock), so refilling
  does not compete with a trainee waiting for a start or a check, and never takes the cap
  past its limit.
- **Taking**: ``take(lab)`` hands out a ready sandbox of that lab (``None``: a miss, and the
  server starts one cold). The server then names it in the trainee's session row; from then
  on it is that trainee's sandbox like any other.
- **Isolation**: pool sandboxes are named ``<prefix>w<random>`` and have no session row, so no
  trainee can reach one (every trainee request finds its sandbox through its own session row).
- **Capacity**: pool sandboxes (ready or starting) count against the host's cap; a cold start
  that finds the host full evicts a ready pool sandbox of another lab (``evict_one``).
- **Cleaning**: ``drain()`` at shutdown; after a crash, ``Classroom.reconcile`` stops them
  with every other sandbox of the prefix that no session row names.

Lab variants: the classroom server starts every trainee's sandbox from the lab's starter (it
picks no seed; per-trainee variants exist only in certification exams), so a pool sandbox is
exactly what a cold start would have built.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterable

from sdnlab.classroom.errors import ClassroomError
from sdnlab.classroom.sandbox import SandboxBackend
from sdnlab.errors import SdnlabError

LOG = logging.getLogger("sdnlab.classroom.pool")
MAX_PER_LAB = 200


def parse_targets(text: str, labs: Iterable[str]) -> dict[str, int]:
    """``"LAB=N,LAB=N"`` as ``{lab: n}``; ``ClassroomError`` naming the bad item otherwise."""
    known = set(labs)
    targets: dict[str, int] = {}
    for item in (part.strip() for part in (text or "").split(",")):
        if not item:
            continue
        lab, sep, count = item.partition("=")
        lab = lab.strip()
        if not sep or not count.strip().isdigit():
            raise ClassroomError(f"--warm {item!r}: give LAB=N (N a whole number), e.g. smart_meters=4")
        if lab not in known:
            raise ClassroomError(f"--warm {item!r}: no lab {lab!r} in the catalogue")
        n = int(count)
        if n > MAX_PER_LAB:
            raise ClassroomError(f"--warm {item!r}: at most {MAX_PER_LAB} per lab")
        targets[lab] = n
    return targets


class WarmPool:
    """Ready sandboxes per lab, refilled one at a time, handed to trainees' starts."""

    def __init__(
        self,
        backend: SandboxBackend,
        targets: dict[str, int],
        prefix: str,
    ):
        self.backend = backend
        self.targets = {lab: n for lab, n in targets.items() if n > 0}
        self.prefix = prefix
        self.hits = 0
        self.misses = 0
        self.failures = 0
        self._ready: dict[str, list[str]] = {lab: [] for lab in self.targets}
        self._starting: dict[str, str] = {}  # sandbox -> lab
        self._closed = False
        self._lock = threading.Lock()

    # -- what the pool holds -----------------------------------------------------------
    def size(self) -> int:
        """Sandboxes the pool holds, ready or starting (they count against the host's cap)."""
        with self._lock:
            return sum(len(v) for v in self._ready.values()) + len(self._starting)

    def ready(self, lab: str | None = None) -> int:
        """Ready sandboxes (of ``lab``, or of every lab)."""
        with self._lock:
            if lab is not None:
                return len(self._ready.get(lab, []))
            return sum(len(v) for v in self._ready.values())

    def starting(self) -> int:
        """Pool sandboxes being started now."""
        with self._lock:
            return len(self._starting)

    def owns(self, sandbox: str) -> bool:
        """True for a sandbox the pool holds (not yet handed to a trainee)."""
        with self._lock:
            return sandbox in self._starting or any(sandbox in v for v in self._ready.values())

    def wanted(self) -> str | None:
        """The lab furthest below its target (counting sandboxes being started), or None."""
        with self._lock:
            if self._closed:
                return None
            deficits = {
                lab: target - len(self._ready[lab]) - sum(1 for v in self._starting.values() if v == lab)
                for lab, target in self.targets.items()
            }
        lab, deficit = max(deficits.items(), key=lambda kv: kv[1], default=(None, 0))
        return lab if deficit > 0 else None

    # -- taking and filling ---------------------------------------------------------------
    def take(self, lab: str) -> str | None:
        """A ready sandbox of ``lab`` for a trainee (removed from the pool), or None (a miss)."""
        with self._lock:
            ready = self._ready.get(lab)
            sandbox = ready.pop(0) if ready else None
            if sandbox is None:
                self.misses += 1
            else:
                self.hits += 1
        return sandbox

    def reserve(self) -> tuple[str, str] | None:
        """Name a new sandbox for the lab that needs one most and count it as starting: ``(lab, sandbox)``.

        The caller checks the host's room and reserves in one step (under the server's start
        lock), then calls ``fill`` outside the lock.
        """
        lab = self.wanted()
        if lab is None:
            return None
        sandbox = f"{self.prefix}w{secrets.token_hex(4)}"
        with self._lock:
            self._starting[sandbox] = lab
        return lab, sandbox

    def fill(self, lab: str, sandbox: str) -> str | None:
        """Start a reserved sandbox; its name once ready, or None (it failed, or the pool was drained)."""
        try:
            self.backend.start(sandbox, lab)
        except (ClassroomError, SdnlabError, OSError) as exc:
            LOG.warning("event=pool.fill lab=%s sandbox=%s error=%r", lab, sandbox, str(exc)[:300])
            with self._lock:
                self._starting.pop(sandbox, None)
                self.failures += 1
            self._stop(sandbox)
            return None
        with self._lock:
            self._starting.pop(sandbox, None)
            closed = self._closed
            if not closed:
                self._ready[lab].append(sandbox)
        if closed:  # drained while it was starting
            self._stop(sandbox)
            return None
        LOG.info("event=pool.ready lab=%s sandbox=%s", lab, sandbox)
        return sandbox

    def fill_one(self) -> str | None:
        """Reserve and start one sandbox (no check of the host's room: ``Classroom.fill_step`` does that)."""
        reserved = self.reserve()
        return self.fill(*reserved) if reserved else None

    def evict_one(self, keep: str | None = None) -> str | None:
        """Stop one ready sandbox (of the lab with the most, other than ``keep``) to free a place."""
        with self._lock:
            candidates = [(len(v), lab) for lab, v in self._ready.items() if v and lab != keep]
            if not candidates:
                return None
            _, lab = max(candidates)
            sandbox = self._ready[lab].pop()
        self._stop(sandbox)
        LOG.info("event=pool.evict lab=%s sandbox=%s", lab, sandbox)
        return sandbox

    def drain(self) -> list[str]:
        """Stop every ready sandbox and refuse new ones (server shutdown); the names stopped."""
        with self._lock:
            self._closed = True
            sandboxes = [s for v in self._ready.values() for s in v]
            for v in self._ready.values():
                v.clear()
        for sandbox in sandboxes:
            self._stop(sandbox)
        return sandboxes

    def _stop(self, sandbox: str) -> None:
        try:
            self.backend.stop(sandbox)
        except (ClassroomError, SdnlabError, OSError) as exc:
            LOG.warning("event=pool.stop sandbox=%s error=%r", sandbox, str(exc)[:300])

    # -- the filler -----------------------------------------------------------------------
    def run(
        self, stop: threading.Event, reserve: Callable[[], tuple[str, str] | None], every_s: float = 1.0
    ) -> None:
        """Background loop: while not stopped, start one sandbox whenever ``reserve()`` grants one."""
        failed_in_a_row = 0
        while not stop.is_set():
            filled = None
            try:
                reserved = reserve() if self.wanted() is not None else None
                if reserved:
                    filled = self.fill(*reserved)
                    failed_in_a_row = 0 if filled else failed_in_a_row + 1
            except Exception:  # keep the loop alive after a database or backend hiccup
                LOG.exception("event=pool.error")
            # after failed starts, back off (1, 2, 4 ... 60 s): a broken lab must not keep the host busy
            wait = min(60.0, every_s * 2**failed_in_a_row) if failed_in_a_row else every_s
            if filled is None and stop.wait(wait):
                break
