"""The classroom server's state: settings, the database, the sandbox backend, the lab catalogue.

One ``Classroom`` per app (``app.state.room``). It owns the lifecycle of sandboxes that is not
tied to one request: reattaching or cleaning them after a restart, reclaiming idle ones, ending
a session, and the exam clock (``proctor.py``) that submits attempts at their deadline.
Request handlers (``classroom/routes/``) reach it through ``deps.Room``.
"""

import logging
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from sdnlab.classroom import metrics, security
from sdnlab.classroom.db import RUNNING_STATES, LabSession
from sdnlab.classroom.sandbox import SandboxBackend
from sdnlab.errors import SdnlabError

LOG = logging.getLogger("sdnlab.classroom")


@dataclass
class Settings:
    """Server settings (from ``sdnlab serve`` options)."""

    max_sandboxes: int = 30
    idle_ttl_s: float = 2 * 3600.0
    sandbox_prefix: str = "cr"
    login_ttl_s: float = 12 * 3600.0
    cookie_secure: str = "auto"  # auto (when the request came over https) | always | never
    max_body: int = 1024 * 1024
    login_attempts: int = 5
    login_window_s: float = 60.0
    reap_every_s: float = 60.0
    exam_tick_s: float = 2.0  # how often the exam clock looks for attempts past their deadline
    state_dir: Path | None = None  # the web process's own folder: signing key, rendered variants
    extra: dict = field(default_factory=dict)


class Classroom:
    """The server's state: database, backend, settings, the lab catalogue, metrics, limits."""

    def __init__(self, factory: sessionmaker, backend: SandboxBackend, settings: Settings):
        from sdnlab.labs.loader import catalogue

        self.factory = factory
        self.backend = backend
        self.settings = settings
        self.labs = {lab.id: lab for lab in catalogue()}
        self.metrics = metrics.Metrics(self)
        self.user_limiter = security.LoginLimiter(settings.login_attempts, settings.login_window_s)
        self.ip_limiter = security.LoginLimiter(settings.login_attempts * 6, settings.login_window_s)
        self.start_lock = threading.Lock()
        self._stop = threading.Event()
        self.state_dir = Path(settings.state_dir or tempfile.mkdtemp(prefix="sdnlab-classroom-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        from sdnlab.classroom.proctor import Proctor

        self.proctor = Proctor(self)

    # -- lifecycle of sandboxes --------------------------------------------------------
    def reconcile(self) -> dict:
        """After a (re)start: reattach sandboxes the database knows, stop the others, mark lost ones."""
        existing = set(self.backend.sandboxes())
        counts = {"reattached": 0, "lost": 0, "cleaned": 0}
        with self.factory.begin() as db:
            known = set()
            for row in db.scalars(select(LabSession).where(LabSession.state.in_(RUNNING_STATES))):
                if row.state == "running" and row.sandbox in existing:
                    known.add(row.sandbox)
                    counts["reattached"] += 1
                else:
                    row.state, row.ended_at = "lost", time.time()
                    row.detail = "the server restarted and the sandbox was not running"
                    counts["lost"] += 1
        for sandbox in existing - known:
            if sandbox.startswith(self.settings.sandbox_prefix):
                try:
                    self.backend.stop(sandbox)
                    counts["cleaned"] += 1
                except SdnlabError as exc:
                    LOG.warning("event=sandbox.clean sandbox=%s error=%r", sandbox, str(exc))
        LOG.info("event=reconcile %s", " ".join(f"{k}={v}" for k, v in counts.items()))
        return counts

    def reclaim_idle(self, now: float | None = None) -> list[str]:
        """Stop sandboxes idle for longer than the time-to-live; returns their names."""
        now = time.time() if now is None else now
        with self.factory() as db:
            idle = db.scalars(
                select(LabSession).where(
                    LabSession.state == "running",
                    LabSession.last_active_at < now - self.settings.idle_ttl_s,
                    LabSession.exam_attempt_id.is_(None),  # exam tasks end with their exam
                )
            ).all()
        reclaimed = []
        for row in idle:
            self.end_session(row.id, "reclaimed", "idle for longer than the time-to-live")
            reclaimed.append(row.sandbox)
        return reclaimed

    def end_session(self, session_id: int, state: str, detail: str = "") -> None:
        """Stop the session's sandbox and record how the session ended."""
        with self.factory() as db:
            row = db.get(LabSession, session_id)
            sandbox = row.sandbox if row else None
        if sandbox:
            try:
                self.backend.stop(sandbox)
            except SdnlabError as exc:
                LOG.warning("event=sandbox.stop sandbox=%s error=%r", sandbox, str(exc))
        with self.factory.begin() as db:
            row = db.get(LabSession, session_id)
            if row and row.state in RUNNING_STATES:
                row.state, row.ended_at, row.detail = state, time.time(), detail
        LOG.info("event=session.end session=%s state=%s", session_id, state)

    def shutdown(self) -> None:
        """Stop the background loops (the sandboxes keep running: a restarted server reattaches them)."""
        self._stop.set()

    def reaper(self) -> None:
        """Background loop: reclaim idle sandboxes until the server stops."""
        while not self._stop.wait(self.settings.reap_every_s):
            try:
                self.reclaim_idle()
            except Exception:  # keep reaping after a database hiccup
                LOG.exception("event=reaper.error")

    def exam_clock(self) -> None:
        """Background loop: submit exam attempts whose time is up (the network as it is then)."""
        while not self._stop.wait(self.settings.exam_tick_s):
            try:
                self.proctor.submit_expired()
            except Exception:  # keep the clock running after a database hiccup
                LOG.exception("event=exam_clock.error")
