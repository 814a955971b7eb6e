"""Lab validation from the instructor pages: ``sdnlab lab validate`` of a catalogue lab as a background job.

**Where it runs.** The checks that read the lab package (texts in both languages, Japanese
check descriptions, vacuous checks, skills, and a variable lab's variants graded statically on
several seeds) and the static scoring of flow-file labs run in the web process: it holds the
instructor data (reference solutions, ``hidden.yaml``) already, to grade submits. A lab that
needs a network to be scored (a controller, VNFs, live probes) is scored in a sandbox of its
own, exactly as a trainee's lab runs: started from the starter, graded with the hidden checks
sent with the grade call (as a submit does), the reference solution written into its
workspace and deployed, graded again, stopped. So the web process never needs root, and the
scoring sees what a trainee's grading sees (same backend, same isolation).

**Safety.** The validation sandbox (``<prefix>v<random>``) has no session row, so no trainee
request can reach it (like the warm pool's sandboxes); it lives for one run. Jobs and their
reports are for instructors and admins only (``routes/validations.py``): a report names hidden
checks and shows the solution's counterexamples.

**Capacity.** A job that needs a sandbox reserves its place against ``--max-sandboxes`` when it
is accepted (under the server's start lock, with the trainees' starts); a full host gives up a
warm pool sandbox or answers 503. At most ``Settings.max_validations`` jobs (default 1) run at
once; another is refused with 409 naming the one running.

**State.** Jobs are rows of ``lab_validations`` (progress, steps, report), so every server
replica sees them and a report outlives a restart. The thread running a job writes a heartbeat
every ``HEARTBEAT_S``; a running job without one for ``STALE_S`` (its server died) is marked
failed and its sandbox stopped by whichever server looks next (and by the reaper loop). A
replica's start-up reconcile keeps the sandboxes of live jobs. Between two replicas, the cap
of running jobs is checked on the database without a lock across them: two jobs accepted at
the same instant on two replicas may both run.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from sdnlab.classroom.db import LabValidation, User
from sdnlab.classroom.errors import ClassFull, ClassroomError, Conflict, NotFound
from sdnlab.classroom.sandbox import SandboxBackend
from sdnlab.errors import SdnlabError

LOG = logging.getLogger("sdnlab.classroom.validation")
KEEP = 20  # jobs listed
MODES = ("auto", "static", "live")
HEARTBEAT_S = 5.0
STALE_S = 60.0


def relative_texts(report: dict, folders: dict[Path, str]) -> dict:
    """The report with server folders as short names (``instructor/labs/x/solution/flows/s3.flows:4``)."""
    prefixes = sorted(
        {(f"{folder.resolve()}/", name) for folder, name in folders.items()}
        | {(f"{folder}/", name) for folder, name in folders.items()},
        key=lambda pair: len(pair[0]),
        reverse=True,
    )

    def clean(value):
        if isinstance(value, str):
            for prefix, name in prefixes:
                value = value.replace(prefix, name)
            return value
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return clean(report)


def job_dict(row: LabValidation, with_report: bool = True) -> dict:
    """What the API answers about a job."""
    return {
        "id": row.id,
        "lab": row.lab_id,
        "mode": row.mode,
        "by": row.by,
        "state": row.state,
        "phase": row.phase,
        "in_sandbox": row.sandbox is not None,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
        "seconds": round((row.finished_at or time.time()) - row.created_at, 1),
        "steps": list(row.steps or []),
        "report": row.report if with_report else None,
        "error": row.error,
    }


class Validations:
    """The server's validation jobs: accepted against the caps, run in threads, kept in the database."""

    def __init__(self, room, limit: int = 1):
        self.room = room
        self.limit = max(1, limit)
        self._mine: set[int] = set()  # jobs this process runs
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()

    @property
    def backend(self) -> SandboxBackend:
        return self.room.backend

    # -- what is held --------------------------------------------------------------------
    def _running(self, db) -> list[LabValidation]:
        return list(db.scalars(select(LabValidation).where(LabValidation.state == "running")))

    def expire_stale(self, now: float | None = None) -> list[int]:
        """Fail running jobs whose server stopped writing heartbeats, and stop their sandboxes."""
        now = time.time() if now is None else now
        sandboxes, expired = [], []
        with self.room.factory.begin() as db:
            for row in self._running(db):
                if row.heartbeat_at < now - STALE_S and row.id not in self._mine:
                    if row.sandbox:
                        sandboxes.append(row.sandbox)
                    row.state, row.finished_at, row.sandbox = "failed", now, None
                    row.error = (
                        f"the server running this validation stopped (no sign of it for {STALE_S:g} s)"
                    )
                    row.phase = "failed"
                    expired.append(row.id)
        for sandbox in sandboxes:
            self._stop(sandbox)
        if expired:
            LOG.warning("event=lab.validate.stale jobs=%s", ",".join(map(str, expired)))
        return expired

    def held(self, db=None) -> int:
        """Sandbox places held by running jobs of every replica (they count against the host's cap).

        ``db``: the caller's database session (a trainee's start counts under its own connection)."""
        fresh = time.time() - STALE_S
        query = (
            select(func.count())
            .select_from(LabValidation)
            .where(
                LabValidation.state == "running",
                LabValidation.sandbox.is_not(None),
                LabValidation.heartbeat_at >= fresh,
            )
        )
        if db is not None:
            return int(db.scalar(query) or 0)
        with self.room.factory() as own:
            return int(own.scalar(query) or 0)

    def sandboxes(self) -> set[str]:
        """The sandboxes of running jobs (a replica's start-up reconcile leaves them alone)."""
        self.expire_stale()
        with self.room.factory() as db:
            return {row.sandbox for row in self._running(db) if row.sandbox}

    def jobs(self) -> list[dict]:
        """The last ``KEEP`` jobs, newest first, without their reports."""
        self.expire_stale()
        with self.room.factory() as db:
            rows = db.scalars(select(LabValidation).order_by(LabValidation.id.desc()).limit(KEEP))
            return [job_dict(row, with_report=False) for row in rows]

    def get(self, job_id: int) -> dict:
        self.expire_stale()
        with self.room.factory() as db:
            row = db.get(LabValidation, job_id)
            if row is None:
                raise NotFound(f"no validation {job_id}")
            return job_dict(row)

    # -- accepting and running -----------------------------------------------------------------
    def submit(self, lab_id: str, mode: str, user: User, run: bool = True) -> dict:
        """Accept a validation of catalogue lab ``lab_id`` and start it in a thread (``run``)."""
        from sdnlab.labs.validate import needs_network

        if mode not in MODES:
            raise ClassroomError(f"mode {mode[:16]!r}: expected one of {', '.join(MODES)}")
        lab = self.room.labs.get(lab_id)
        if lab is None:
            raise NotFound(f"no lab {lab_id[:64]!r}")
        self.expire_stale()
        with self.room.start_lock:  # with the trainees' starts: the cap is checked and taken at once
            with self.room.factory() as db:
                running = self._running(db)
            if len(running) >= self.limit:
                busy = running[0]
                raise Conflict(
                    f"a validation is running already ({busy.lab_id}, asked by {busy.by}): "
                    f"wait for it (at most {self.limit} at a time)"
                )
            sandbox = None
            if needs_network(lab, mode):
                if self.room.free_places() <= 0 and self.room.pool.evict_one() is None:
                    raise ClassFull("class is full: the validation needs a sandbox, try again later")
                sandbox = f"{self.room.settings.sandbox_prefix}v{secrets.token_hex(4)}"
            now = time.time()
            with self.room.factory.begin() as db:
                row = LabValidation(
                    lab_id=lab.id, mode=mode, user_id=user.id, by=user.username, state="running",
                    phase="accepted", sandbox=sandbox, created_at=now, heartbeat_at=now, steps=[], error="",
                )  # fmt: skip
                db.add(row)
                db.flush()
                job = job_dict(row)
            with self._lock:
                self._mine.add(job["id"])
        LOG.info("event=lab.validate lab=%s mode=%s by=%s sandbox=%s", lab.id, mode, user.username, sandbox)
        if run:
            thread = threading.Thread(target=self.run, args=(job["id"],), name="validate", daemon=True)
            with self._lock:
                self._threads[job["id"]] = thread
            thread.start()
        return job

    def _update(self, job_id: int, **fields) -> None:
        with self.room.factory.begin() as db:
            row = db.get(LabValidation, job_id)
            if row is not None:
                for name, value in fields.items():
                    setattr(row, name, value)
                row.heartbeat_at = time.time()

    def run(self, job_id: int) -> None:
        """Validate (the job's thread); the outcome lands in the job's row."""
        from sdnlab import instructor
        from sdnlab.labs.loader import labs_root
        from sdnlab.labs.validate import validate

        with self.room.factory() as db:
            row = db.get(LabValidation, job_id)
            assert row is not None
            lab_id, mode, by, sandbox, created = row.lab_id, row.mode, row.by, row.sandbox, row.created_at
        steps: list[dict] = []

        def step(text: str) -> None:
            steps.append({"at": round(time.time() - created, 1), "text": text})
            self._update(job_id, phase=text[:200], steps=list(steps))

        alive = threading.Event()  # set when the job is over: the heartbeat stops
        threading.Thread(target=self._heartbeat, args=(job_id, alive), daemon=True).start()
        outcome: dict = {"state": "failed", "error": "validation stopped"}
        try:
            lab = self.room.labs[lab_id]
            score = self._score_in_sandbox(sandbox, by, job_id, step) if sandbox else None
            report = validate(lab.path, mode=mode, score_live=score, step=step).to_dict()
            if report["mode"] == "live":
                report["mode"] = f"live, in a {self.backend.kind} sandbox"
                if self.backend.kind == "workspace":  # it builds no network: probes are not run
                    report["mode"] += " (graded statically from the flow files: no network, no probes)"
            folders = {labs_root(): "labs/"}
            data = instructor.root()
            if data is not None:
                folders[data / instructor.LABS] = "instructor/labs/"
            outcome = {"state": "done", "report": relative_texts(report, folders), "error": ""}
            steps.append({"at": round(time.time() - created, 1), "text": "done"})
        except Exception as exc:  # the job reports it; the server goes on
            LOG.exception("event=lab.validate.error lab=%s", lab_id)
            outcome = {
                "state": "failed",
                "error": f"validation stopped: {str(exc)[:500] or type(exc).__name__}",
            }
            steps.append({"at": round(time.time() - created, 1), "text": "failed"})
        finally:
            alive.set()
            finished = time.time()
            try:
                self._update(
                    job_id, **outcome, phase=steps[-1]["text"] if steps else "", steps=list(steps),
                    finished_at=finished, sandbox=None,  # the place is free again (the sandbox was stopped)
                )  # fmt: skip
            finally:  # a database hiccup here must not block every later validation (409) until restart
                with self._lock:
                    self._mine.discard(job_id)
                    self._threads.pop(job_id, None)
            LOG.info(
                "event=lab.validate.end lab=%s state=%s ok=%s seconds=%.1f",
                lab_id,
                outcome["state"],
                bool(outcome.get("report", {}).get("ok")),
                finished - created,
            )

    def _heartbeat(self, job_id: int, over: threading.Event) -> None:
        while not over.wait(HEARTBEAT_S):
            try:
                self._update(job_id)
            except Exception:  # a database hiccup: the next beat tries again
                LOG.exception("event=lab.validate.heartbeat")

    def _score_in_sandbox(self, sandbox: str, by: str, job_id: int, step):
        """``score_live`` for ``labs.validate``: starter then solution graded in the job's sandbox."""
        from sdnlab.classroom.views import hidden_checks
        from sdnlab.labs.results import LabResult
        from sdnlab.labs.workspace import read_text

        def score(lab):
            hidden = hidden_checks(lab.id, "submit")
            step(f"starting a sandbox ({sandbox})")
            try:
                self.backend.start(sandbox, lab.id, trainee=f"validation by {by}", session=f"v{job_id}")
                step("grading the starter (hidden checks included)")
                starter = self.backend.grade(sandbox, include_hidden=True, hidden=hidden)
                step("deploying the reference solution")
                solution_dir = lab.solution_dir
                for path in sorted(solution_dir.rglob("*")):
                    if path.is_file() and "__pycache__" not in path.parts:
                        rel = path.relative_to(solution_dir).as_posix()
                        self.backend.write_file(sandbox, rel, read_text(path, ClassroomError))
                self.backend.deploy(sandbox)
                step("grading the reference solution (hidden checks included)")
                solution = self.backend.grade(sandbox, include_hidden=True, hidden=hidden)
            finally:
                step("stopping the sandbox")
                self._stop(sandbox)
            return LabResult.from_dict(solution), LabResult.from_dict(starter)

        return score

    def _stop(self, sandbox: str) -> None:
        try:
            self.backend.stop(sandbox)
        except (SdnlabError, OSError) as exc:
            LOG.warning("event=lab.validate.stop sandbox=%s error=%r", sandbox, str(exc)[:300])

    def shutdown(self, wait_s: float = 15.0) -> None:
        """Server shutdown: stop the sandboxes of this server's running jobs (their grading then
        fails at once), wait a little for their threads, and fail the jobs still running."""
        with self._lock:
            mine, threads = set(self._mine), list(self._threads.values())
        if not mine:
            return
        with self.room.factory() as db:
            rows = [db.get(LabValidation, job_id) for job_id in mine]
            sandboxes = [row.sandbox for row in rows if row is not None and row.sandbox]
        for sandbox in sandboxes:
            self._stop(sandbox)
        deadline = time.monotonic() + wait_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            left = set(self._mine)
        with self.room.factory.begin() as db:
            for job_id in left:
                row = db.get(LabValidation, job_id)
                if row is not None and row.state == "running":
                    row.state, row.finished_at, row.sandbox = "failed", time.time(), None
                    row.error, row.phase = "the server stopped during the validation", "failed"
