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
once per server process; another is refused with 409 naming the one running.

Jobs live in the server process (the last ``KEEP`` are kept, newest first); a restart forgets
them, and the next start's reconcile stops a validation sandbox left behind.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sdnlab.classroom.errors import ClassFull, ClassroomError, Conflict, NotFound
from sdnlab.classroom.sandbox import SandboxBackend
from sdnlab.errors import SdnlabError

LOG = logging.getLogger("sdnlab.classroom.validation")
KEEP = 20
MODES = ("auto", "static", "live")


@dataclass
class Job:
    """One validation run: its lab, who asked, its state and, when done, the report."""

    id: int
    lab: str
    mode: str
    by: str
    created_at: float
    state: str = "running"  # running | done | failed
    phase: str = "queued"
    sandbox: str | None = None  # the place reserved (or the sandbox running) for live scoring
    finished_at: float | None = None
    report: dict | None = None
    error: str = ""
    steps: list[dict] = field(default_factory=list)  # {"at", "text"}: what was done when

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "lab": self.lab,
            "mode": self.mode,
            "by": self.by,
            "state": self.state,
            "phase": self.phase,
            "in_sandbox": self.sandbox is not None,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "seconds": round((self.finished_at or time.time()) - self.created_at, 1),
            "steps": list(self.steps),
            "report": self.report,
            "error": self.error,
        }


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


class Validations:
    """The server's validation jobs: accepted against the caps, run in threads, kept for polling."""

    def __init__(self, room, limit: int = 1):
        self.room = room
        self.limit = max(1, limit)
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def backend(self) -> SandboxBackend:
        return self.room.backend

    # -- what is held --------------------------------------------------------------------
    def held(self) -> int:
        """Sandbox places held by running jobs (they count against the host's cap)."""
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.state == "running" and j.sandbox)

    def running(self) -> list[Job]:
        with self._lock:
            return [j for j in self._jobs.values() if j.state == "running"]

    def jobs(self) -> list[Job]:
        """The kept jobs, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.id, reverse=True)

    def get(self, job_id: int) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no validation {job_id}")
        return job

    # -- accepting and running -----------------------------------------------------------------
    def submit(self, lab_id: str, mode: str, by: str, run: bool = True) -> Job:
        """Accept a validation of catalogue lab ``lab_id`` and start it in a thread (``run``)."""
        from sdnlab.labs.validate import needs_network

        if mode not in MODES:
            raise ClassroomError(f"mode {mode[:16]!r}: expected one of {', '.join(MODES)}")
        lab = self.room.labs.get(lab_id)
        if lab is None:
            raise NotFound(f"no lab {lab_id[:64]!r}")
        sandbox = None
        with self.room.start_lock:  # with the trainees' starts: the cap is checked and taken at once
            running = self.running()
            if len(running) >= self.limit:
                busy = running[0]
                raise Conflict(
                    f"a validation is running already ({busy.lab}, asked by {busy.by}): "
                    f"wait for it (at most {self.limit} at a time)"
                )
            if needs_network(lab, mode):
                if self.room.free_places() <= 0 and self.room.pool.evict_one() is None:
                    raise ClassFull("class is full: the validation needs a sandbox, try again later")
                sandbox = f"{self.room.settings.sandbox_prefix}v{secrets.token_hex(4)}"
            job = Job(next(self._ids), lab.id, mode, by, time.time(), sandbox=sandbox)
            with self._lock:
                self._jobs[job.id] = job
                for old in sorted(self._jobs)[:-KEEP]:
                    if self._jobs[old].state != "running":
                        del self._jobs[old]
        LOG.info("event=lab.validate lab=%s mode=%s by=%s sandbox=%s", lab.id, mode, by, sandbox)
        if run:
            threading.Thread(target=self.run, args=(job,), name=f"validate-{job.id}", daemon=True).start()
        return job

    def run(self, job: Job) -> None:
        """Validate (the job's thread); the outcome lands in the job."""
        from sdnlab import instructor
        from sdnlab.labs.loader import labs_root
        from sdnlab.labs.validate import validate

        def step(text: str) -> None:
            job.phase = text
            job.steps.append({"at": round(time.time() - job.created_at, 1), "text": text})

        try:
            lab = self.room.labs[job.lab]
            score = self._score_in_sandbox(job, step) if job.sandbox else None
            report = validate(lab.path, mode=job.mode, score_live=score, step=step).to_dict()
            if report["mode"] == "live":
                report["mode"] = f"live, in a {self.backend.kind} sandbox"
                if self.backend.kind == "workspace":  # it builds no network: probes are not run
                    report["mode"] += " (graded statically from the flow files: no network, no probes)"
            folders = {labs_root(): "labs/"}
            data = instructor.root()
            if data is not None:
                folders[data / instructor.LABS] = "instructor/labs/"
            job.report = relative_texts(report, folders)
            job.state = "done"
            step("done" if report["ok"] else "done: problems found")
        except Exception as exc:  # the job reports it; the server goes on
            LOG.exception("event=lab.validate.error lab=%s", job.lab)
            job.state, job.error = "failed", f"validation stopped: {str(exc)[:500] or type(exc).__name__}"
            step("failed")
        finally:
            job.finished_at = time.time()
            LOG.info(
                "event=lab.validate.end lab=%s state=%s ok=%s seconds=%.1f",
                job.lab,
                job.state,
                bool(job.report and job.report.get("ok")),
                job.finished_at - job.created_at,
            )
            job.sandbox = None  # the place is free again (the sandbox was stopped)

    def _score_in_sandbox(self, job: Job, step):
        """``score_live`` for ``labs.validate``: starter then solution graded in the job's sandbox."""
        from sdnlab.classroom.views import hidden_checks
        from sdnlab.labs.results import LabResult
        from sdnlab.labs.workspace import read_text

        sandbox = job.sandbox
        assert sandbox is not None

        def score(lab):
            hidden = hidden_checks(lab.id, "submit")
            step(f"starting a sandbox ({sandbox})")
            try:
                self.backend.start(sandbox, lab.id, trainee=f"validation by {job.by}", session=f"v{job.id}")
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

    def shutdown(self) -> None:
        """Server shutdown: stop the sandboxes of running jobs (their threads end with an error)."""
        for job in self.running():
            if job.sandbox:
                self._stop(job.sandbox)
