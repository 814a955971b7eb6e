"""The classroom server's state: settings, the database, the sandbox backend, the lab catalogue.

One ``Classroom`` per app (``app.state.room``). It owns the lifecycle of sandboxes that is not
tied to one request: reattaching or cleaning them after a restart, reclaiming idle ones, ending
a session, the exam clock (``proctor.py``) that submits attempts at their deadline, the
warm pool (``pool.py``) and its filler, and instructors' lab validations (``validation.py``).
It also holds the certificate signing key when one is given
(``Settings.key_file``: ``sdnlab serve --key-file`` or ``$SDNLAB_SIGNING_KEY_FILE``, the
Secret that deploy/kubernetes mounts). Request handlers (``classroom/routes/``) reach it
through ``deps.Room``.
"""

import logging
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from sdnlab.classroom import metrics, security
from sdnlab.classroom.db import RUNNING_STATES, LabSession
from sdnlab.classroom.errors import ClassroomError
from sdnlab.classroom.pool import WarmPool
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
    warm: dict[str, int] = field(default_factory=dict)  # lab id -> ready sandboxes kept (the warm pool)
    warm_every_s: float = 1.0
    max_validations: int = 1  # lab validations (instructors, validation.py) running at once
    key_file: str = ""  # the certificate signing key (Ed25519 PEM), e.g. a mounted Kubernetes Secret
    pdf_timeout_s: float = 30.0  # a certificate PDF printed by headless Chromium: its time limit
    pdf_printers: int = 2  # Chromiums printing at once (each takes ~150 MB for a second or so)
    extra: dict = field(default_factory=dict)


class Classroom:
    """The server's state: database, backend, settings, the lab catalogue, metrics, limits."""

    def __init__(self, factory: sessionmaker, backend: SandboxBackend, settings: Settings):
        from sdnlab.labs.loader import catalogue

        self.factory = factory
        self.backend = backend
        self.settings = settings
        self.labs = {lab.id: lab for lab in catalogue()}
        unknown = sorted(set(settings.warm) - set(self.labs))
        if unknown:
            raise ClassroomError(f"warm pool: no lab {unknown[0]!r} in the catalogue")
        self.pool = WarmPool(backend, settings.warm, settings.sandbox_prefix)
        from sdnlab.classroom.validation import Validations

        self.validations = Validations(self, settings.max_validations)
        self.signing_key = None  # read at start (before the server drops root), so a bad key fails fast
        if settings.key_file:
            from sdnlab.certification import keys

            self.signing_key = keys.load_file(Path(settings.key_file))
            LOG.info("event=signing_key issuer=%s", keys.did_key(self.signing_key.public_key()))
        self.metrics = metrics.Metrics(self)
        self.user_limiter = security.LoginLimiter(settings.login_attempts, settings.login_window_s)
        self.ip_limiter = security.LoginLimiter(settings.login_attempts * 6, settings.login_window_s)
        self.start_lock = threading.Lock()
        self._busy = 0  # trainees' lab starts and gradings in flight (the pool's filler waits for them)
        self._stop = threading.Event()
        self.state_dir = Path(settings.state_dir or tempfile.mkdtemp(prefix="sdnlab-classroom-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        from sdnlab.classroom.proctor import Proctor

        self.proctor = Proctor(self)

    # -- capacity ------------------------------------------------------------------------
    def active_sessions(self, db: DbSession | None = None) -> int:
        """Sessions starting or running (each holds a sandbox); ``db``: the caller's session, if any."""
        if db is None:
            with self.factory() as own:
                return self.active_sessions(own)
        query = select(func.count()).select_from(LabSession).where(LabSession.state.in_(RUNNING_STATES))
        return int(db.scalar(query) or 0)

    def held_outside_sessions(self, db: DbSession | None = None) -> int:
        """Sandboxes no session row names that count against the cap: the warm pool's, validations'."""
        return self.pool.size() + self.validations.held(db)

    def free_places(self, db: DbSession | None = None) -> int:
        """Sandboxes the host may still start: the cap minus sessions, the warm pool and validations."""
        return self.settings.max_sandboxes - self.active_sessions(db) - self.held_outside_sessions(db)

    def admit(self, db: DbSession, keep: str | None = None) -> bool:
        """Whether a trainee's sandbox (a lab's or an exam task's) may start now (call under
        ``start_lock``): a free place, or one made by giving up a warm sandbox of a lab other than
        ``keep`` when only the pool fills the host. The one capacity rule of every start."""
        free = self.free_places(db)
        return free > 0 or (free + self.pool.size() > 0 and self.pool.evict_one(keep=keep) is not None)

    def begin_start(self) -> None:
        """A trainee's lab start is admitted (call under ``start_lock``): the filler waits until it ends."""
        self._busy += 1

    def end_start(self) -> None:
        """That start is over (ready or failed)."""
        with self.start_lock:
            self._busy -= 1

    @contextmanager
    def grading(self) -> Iterator[None]:
        """Around a trainee's check or submit: the filler does not build while a class is grading."""
        with self.start_lock:
            self._busy += 1
        try:
            yield
        finally:
            with self.start_lock:
                self._busy -= 1

    def reserve_fill(self) -> tuple[str, str] | None:
        """A warm pool sandbox to start now ``(lab, sandbox)``, when no trainee's start or grading is in
        flight and the host has room."""
        with self.start_lock:
            if self._busy or self.free_places() <= 0:
                return None
            return self.pool.reserve()

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
        known |= self.validations.sandboxes()  # running validations (of any replica) keep theirs
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
        """Stop the background loops and the warm pool's sandboxes (trainees' sandboxes keep running:
        a restarted server reattaches them)."""
        self._stop.set()
        self.validations.shutdown()
        drained = self.pool.drain()
        if drained:
            LOG.info("event=pool.drain sandboxes=%d", len(drained))

    def filler(self) -> None:
        """Background loop: keep the warm pool at its targets, one sandbox at a time."""
        self.pool.run(self._stop, self.reserve_fill, self.settings.warm_every_s)

    def reaper(self) -> None:
        """Background loop: reclaim idle sandboxes until the server stops."""
        while not self._stop.wait(self.settings.reap_every_s):
            try:
                self.reclaim_idle()
                self.validations.expire_stale()
            except Exception:  # keep reaping after a database hiccup
                LOG.exception("event=reaper.error")

    def exam_clock(self) -> None:
        """Background loop: submit exam attempts whose time is up (the network as it is then)."""
        while not self._stop.wait(self.settings.exam_tick_s):
            try:
                self.proctor.submit_expired()
            except Exception:  # keep the clock running after a database hiccup
                LOG.exception("event=exam_clock.error")
