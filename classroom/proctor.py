"""Exams in the classroom: scheduling policy, attempts, one task at a time, auto-submit, certificates.

An instructor schedules a catalogue exam (``sdnlab.certification.exam``) for a class with a
window (opens, closes) and a duration; attempts allowed, the pass mark and, by default, the
hint policy come from the exam file (the instructor may turn hints off or change their cost).

Policy (pure functions, tested with a fake clock):

- no start before the window opens or from the moment it closes, none in a cancelled exam;
- a start late in the window gets ``min(duration, time left until the window closes)``: the
  window is a hard end (the room is booked until then), so every attempt ends by ``closes_at``;
- a trainee has at most ``attempts`` attempts (reference runs do not count) and one running
  attempt at a time; a new attempt gets a fresh seed (its own variant of every task).

One sandbox per trainee: the attempt runs one task's lab at a time, as a normal lab session
(``sessions.exam_attempt_id`` set) so the workspace, deploy and terminal endpoints work as for
any lab. Switching to another task grades the task being left (hidden checks included, kept
server-side), saves its workspace files and stops its sandbox; coming back starts the task's
variant again with those files deployed. At submit (by the trainee, or by the exam clock at
the deadline) the current task is graded on its network as it is then; a task whose saved
files were never graded (an instructor's reference solve) is graded in a short-lived sandbox;
a task never opened scores 0 ("not attempted"). A task's scored fault scenarios
(``certification.scenarios``) travel with its grade calls, variables filled for the seed, and
are measured on the sandbox's network: scored like ``sdnlab exam`` does, their measurements
kept in the evidence (``tasks/<n>-<lab>/measurements.json``).

Hidden checks count in the score; their texts and per-check results are never sent to the
trainee (during the exam or after): trainees see per-task percentages and check counts.
Instructors see everything. The evidence bundle (``sdnlab.certification.bundle``) holds every
task's full report, its variant, workspace files, the terminal history of the attempt's
sessions and the attempt's facts; a passed exam gets an Open Badges 3.0 certificate signed with
the server's Ed25519 key (``sdnlab serve --key-file``, or else ``<state>/keys``, created at
first start, mode 0600 in a 0700 folder), which ``sdnlab cert verify --key`` accepts with the
public key the server publishes (``GET /api/exams/issuer-key``). Its printable page prints to PDF
through headless Chromium on the server (``certificate_pdf``: at most ``Settings.pdf_printers`` at
once, each within ``Settings.pdf_timeout_s``, kept by the page's hash so a second download prints
nothing).

Cancelling a scheduled exam (``cancel``) voids it: no start from then on, and every attempt
still running is closed as ``cancelled``: not graded, no score, no certificate, not counted
among the trainee's attempts; its workspace files are saved and its sandbox stopped, so the
instructor keeps the record (files, terminal history) and the host its capacity. An attempt
whose time was already up when the exam was cancelled is submitted as at its deadline (the exam
clock would have done so), and attempts handed in before keep their result and certificate;
what the cancel answers, audits and logs as closed is what its own conditional update changed
(``UPDATE ... RETURNING``), never an attempt handed in while the cancel was being made. The
cancel wins over a step in flight: a submit hands in only an attempt still running (a conditional
update), and a start re-checks its attempt under the attempt's lock before starting a sandbox.

No database connection is held while a sandbox works (starting, grading, saving files, seconds
each): every step reads what it needs, commits (which gives the connection back to the pool),
calls the sandbox, then writes in a short new transaction, as the lab routes do.
"""

from __future__ import annotations

import json
import logging
import random
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as DbSession

from sdnlab.classroom import accounts
from sdnlab.classroom.db import (
    RUNNING_STATES,
    Attempt,
    ClassGroup,
    ExamAttempt,
    Hint,
    LabSession,
    Membership,
    ScheduledExam,
    TerminalLine,
    User,
)
from sdnlab.classroom.errors import ClassFull, ClassroomError, Conflict, NotFound, PrintUnavailable
from sdnlab.classroom.keyed_locks import KeyedLocks
from sdnlab.errors import SdnlabError

if TYPE_CHECKING:
    from sdnlab.certification.exam import Exam
    from sdnlab.classroom.room import Classroom

LOG = logging.getLogger("sdnlab.classroom")
MAX_MINUTES = 600.0
MAX_WINDOW_S = 366 * 24 * 3600.0
PRINTER_WAIT_S = 5.0  # a PDF download waits this long for a free printer, then answers 503


# ---------------------------------------------------------------- policy (pure)


def iso(moment: float) -> str:
    from sdnlab.certification.credential import now_iso

    return now_iso(moment)


def schedule_problems(opens_at: float, closes_at: float, minutes: float, now: float) -> list[str]:
    """What is wrong with a window and duration (empty when they are fine)."""
    problems = []
    if not 0 < minutes <= MAX_MINUTES:
        problems.append(f"minutes: expected 0 < minutes <= {MAX_MINUTES:g} (got {minutes:g})")
    if closes_at <= opens_at:
        problems.append("closes_at: the window must close after it opens")
    elif closes_at - opens_at > MAX_WINDOW_S:
        problems.append("closes_at: a window longer than a year")
    if closes_at <= now:
        problems.append(f"closes_at: {iso(closes_at)} is in the past")
    return problems


def start_deadline(
    opens_at: float, closes_at: float, minutes: float, cancelled_at: float | None, now: float
) -> float:
    """The deadline of an attempt started at ``now``; ``Conflict`` outside the window or when cancelled."""
    if cancelled_at is not None:
        raise Conflict("this exam was cancelled by the instructor")
    if now < opens_at:
        raise Conflict(f"the exam opens at {iso(opens_at)} (in {int(opens_at - now)} s)")
    if now >= closes_at:
        raise Conflict(f"the exam window closed at {iso(closes_at)}: no start after the window")
    return min(now + minutes * 60.0, closes_at)


def attempts_left(allowed: int, used: int) -> int:
    """Attempts a trainee may still start (never negative)."""
    return max(0, allowed - used)


def task_score(checks: list[dict]) -> tuple[float, int, int]:
    """(percent, passed, total) of graded checks (each with ``score``, ``weight``, ``passed``)."""
    weight = sum(float(c.get("weight", 0.0)) for c in checks)
    score = sum(float(c.get("score", 0.0)) for c in checks)
    percent = round(100.0 * score / weight, 1) if weight else 0.0
    return percent, sum(bool(c.get("passed")) for c in checks), len(checks)


def exam_percent(
    task_percents: list[tuple[float, float]], hints_used: int, hint_cost: float
) -> tuple[float, float]:
    """(raw, final) exam percent from (weight, percent) per task, minus ``hint_cost`` points per hint."""
    total = sum(w for w, _ in task_percents)
    raw = round(sum(w * p for w, p in task_percents) / total, 1) if total else 0.0
    return raw, round(max(0.0, raw - hints_used * hint_cost), 1)


def selected_checks(report: dict, checks: tuple[str, ...] | None, include_hidden: bool) -> list[dict]:
    """The report's checks an exam task grades (``checks`` None: all), hidden ones when asked."""
    return [
        c
        for c in report.get("checks", [])
        if (checks is None or c.get("id") in checks) and (include_hidden or not c.get("hidden"))
    ]


def task_checks(task) -> tuple[str, ...] | None:
    """The check ids an exam task grades: its listed lab checks and its scored scenarios (None: all)."""
    if task.checks is None:
        return None
    return (*task.checks, *(s.id for s in task.scenarios))


def scheduled_of(db: DbSession, attempt: ExamAttempt) -> ScheduledExam:
    """The scheduled exam of an attempt (the foreign key guarantees one)."""
    sched = db.get(ScheduledExam, attempt.scheduled_id)
    if sched is None:
        raise NotFound(f"attempt {attempt.id}: its scheduled exam is gone")
    return sched


@dataclass(frozen=True)
class Cancellation:
    """What cancelling a scheduled exam did: the exam, and the attempts it closed as cancelled."""

    scheduled: ScheduledExam
    cancelled_attempts: tuple[int, ...]


# ---------------------------------------------------------------- the proctor


class Proctor:
    """The server's exam logic over the room's database, backend and signing key."""

    def __init__(self, room: Classroom):
        from sdnlab.certification import keys

        self.room = room
        self.keys_dir = room.state_dir / "keys"
        # the key given to the server (``--key-file``, a mounted Secret), else the server's own,
        # made at first start (0600 in a 0700 folder)
        self.key = room.signing_key if room.signing_key is not None else keys.load_or_create(self.keys_dir)
        self._exams: dict[str, Exam] = {}
        self._attempts = KeyedLocks()  # one operation on an attempt at a time (kept while in use)
        self._guard = threading.Lock()
        self._printers = threading.BoundedSemaphore(max(1, room.settings.pdf_printers))
        self._pages = KeyedLocks()  # one print per certificate page (by its hash) at a time

    # -- catalogue and variants ----------------------------------------------------------
    def exam(self, exam_id: str) -> Exam:
        """A catalogue exam by id (cached); ``NotFound`` for an unknown one."""
        from sdnlab.certification.exam import catalogue, load_exam

        with self._guard:
            if exam_id not in self._exams:
                if exam_id not in {e.id for e in catalogue()}:
                    raise NotFound(f"no exam {exam_id[:64]!r} in the catalogue")
                self._exams[exam_id] = load_exam(exam_id)
            return self._exams[exam_id]

    def catalogue(self) -> list[Exam]:
        from sdnlab.certification.exam import catalogue

        exams = catalogue()
        with self._guard:
            self._exams.update({e.id: e for e in exams})
        return exams

    def variant(self, exam: Exam, index: int, seed: int):
        """The rendered lab of task ``index`` for ``seed`` (in the server's folder, never the trainee's)."""
        from sdnlab.certification.variants import render
        from sdnlab.labs.loader import load_lab

        task = exam.tasks[index]
        out = self.room.state_dir / "variants" / f"seed-{seed}"
        with self._guard:
            target = out / task.lab_dir.name
            if not (target / "variant.json").is_file():
                render(task.lab_dir, seed, out)
        return load_lab(target)

    def public_key_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @contextmanager
    def lock(self, attempt_id: int) -> Iterator[None]:
        """Hold the attempt's lock: its start, task switches, checks, submit and cancel take turns.
        The lock is forgotten once nobody holds or waits for it (no entry per attempt ever run)."""
        with self._attempts.hold(attempt_id, timeout=-1):
            yield

    # -- scheduling ------------------------------------------------------------------------
    def schedule(
        self,
        db: DbSession,
        user: User,
        exam_id: str,
        class_name: str,
        opens_at: float,
        closes_at: float,
        minutes: float | None,
        hints_allowed: bool | None,
        hint_cost: float | None,
        now: float,
    ) -> ScheduledExam:
        exam = self.exam(exam_id)
        group = db.scalar(select(ClassGroup).where(ClassGroup.name == class_name))
        if group is None or (
            user.role != "admin" and db.get(Membership, (user.id, group.id)) is None
        ):  # an instructor schedules only for her own classes
            raise NotFound(f"no class {class_name[:64]!r} of yours")
        minutes = exam.minutes if minutes is None else float(minutes)
        problems = schedule_problems(opens_at, closes_at, minutes, now)
        if hint_cost is not None and not 0 <= hint_cost <= 100:
            problems.append("hint_cost: expected 0..100 exam points per hint")
        if problems:
            raise ClassroomError("; ".join(problems))
        row = ScheduledExam(
            exam_id=exam.id,
            class_id=group.id,
            opens_at=opens_at,
            closes_at=closes_at,
            minutes=minutes,
            attempts=exam.attempts,
            hints_allowed=exam.hints_allowed if hints_allowed is None else bool(hints_allowed),
            hint_cost=exam.hint_cost if hint_cost is None else float(hint_cost),
            pass_percent=exam.pass_percent,
            created_by=user.id,
            created_at=now,
        )
        db.add(row)
        db.flush()
        accounts.audit(db, user, "exam.schedule", f"{exam.id} class={class_name} id={row.id}")
        db.commit()
        return row

    def scheduled_for(self, db: DbSession, user: User, scheduled_id: int) -> ScheduledExam:
        """A scheduled exam the caller may see: of a class of theirs (admins: any); 404 otherwise."""
        row = db.get(ScheduledExam, scheduled_id)
        if row is None or (user.role != "admin" and db.get(Membership, (user.id, row.class_id)) is None):
            raise NotFound(f"no scheduled exam {scheduled_id}")
        return row

    def visible_scheduled(self, db: DbSession, user: User) -> list[ScheduledExam]:
        query = select(ScheduledExam).order_by(ScheduledExam.opens_at, ScheduledExam.id)
        if user.role != "admin":
            mine = select(Membership.class_id).where(Membership.user_id == user.id)
            query = query.where(ScheduledExam.class_id.in_(mine))
        return list(db.scalars(query))

    def used_attempts(self, db: DbSession, scheduled_id: int, user_id: int) -> int:
        return int(
            db.scalar(
                select(func.count())
                .select_from(ExamAttempt)
                .where(
                    ExamAttempt.scheduled_id == scheduled_id,
                    ExamAttempt.user_id == user_id,
                    ExamAttempt.reference_run.is_(False),
                    ExamAttempt.status != "cancelled",  # a cancelled exam costs no attempt
                )
            )
            or 0
        )

    # -- cancelling ------------------------------------------------------------------------
    def cancel(self, db: DbSession, user: User, scheduled_id: int, now: float) -> Cancellation:
        """Cancel a scheduled exam (policy in the module's docstring): no start from ``now`` on, the
        attempts whose time was up submitted, the others closed as ``cancelled``. Returns the exam
        and the attempts this cancel stored as cancelled (what its update wrote, not what it read)."""
        sched = self.scheduled_for(db, user, scheduled_id)
        with self.room.start_lock:  # a start checks the exam under this lock: none slips in after
            db.refresh(sched)
            if sched.cancelled_at is not None:
                raise Conflict(f"scheduled exam {scheduled_id} is cancelled already")
            sched.cancelled_at = now
            # one conditional update, and its RETURNING names the rows it changed: an attempt handed
            # in meanwhile (a submit holds the attempt's lock, not this one) is not running any more,
            # is not changed and keeps its result; from now on the trainee's writes, checks and hints
            # are refused
            voided = sorted(
                db.scalars(
                    update(ExamAttempt)
                    .where(
                        ExamAttempt.scheduled_id == sched.id,
                        ExamAttempt.status == "running",
                        ExamAttempt.deadline > now,
                    )
                    .values(status="cancelled")
                    .returning(ExamAttempt.id)
                    .execution_options(synchronize_session=False)
                )
            )
            expired = list(
                db.scalars(
                    select(ExamAttempt.id).where(
                        ExamAttempt.scheduled_id == sched.id,
                        ExamAttempt.status == "running",
                        ExamAttempt.deadline <= now,
                    )
                )
            )
            closed = ",".join(map(str, voided)) or "-"
            accounts.audit(db, user, "exam.cancel", f"id={scheduled_id} attempts_closed={closed}")
            db.commit()
        # the cancel is committed: each attempt's step below is on its own (one that fails is logged,
        # the others go on); the cancelled ones first, so no failed grading leaves their sandboxes up
        for attempt_id in voided:
            try:
                self._close_cancelled(attempt_id)
            except Exception:
                LOG.exception("event=exam.cancel_close attempt=%s", attempt_id)
        for attempt_id in expired:
            try:
                self.submit(attempt_id, now, auto=True)  # its time was up before the cancel
            except Exception:  # still running: the exam clock submits it at its next tick
                LOG.exception("event=exam.cancel_submit attempt=%s", attempt_id)
        LOG.info("event=exam.cancel scheduled=%s attempts_closed=%d", scheduled_id, len(voided))
        return Cancellation(sched, tuple(voided))

    def _close_cancelled(self, attempt_id: int) -> None:
        """Save the workspace of a cancelled attempt's current task and stop its sandbox."""
        with self.lock(attempt_id):  # after a switch or start in flight has finished
            with self.room.factory() as db:
                attempt = db.get(ExamAttempt, attempt_id)
                if attempt is None or attempt.status != "cancelled":
                    return  # handed in just before the cancel: its result stands
                session = self._current_session(db, attempt)
                index = attempt.current_task - 1
            if session is None:
                return
            files: dict[str, str] | None = None
            if session.state == "running":
                try:
                    files = self._save_files(session.sandbox)
                except SdnlabError as exc:
                    LOG.warning("event=exam.cancel_files attempt=%s error=%r", attempt_id, str(exc))
            if files is not None:
                with self.room.factory.begin() as db:
                    attempt = db.get(ExamAttempt, attempt_id)
                    if attempt is not None:
                        tasks = [dict(t) for t in attempt.tasks]
                        tasks[index].update(files=files)
                        attempt.tasks = tasks
            self.room.end_session(session.id, "stopped", f"exam attempt {attempt_id}: the exam was cancelled")

    # -- attempts --------------------------------------------------------------------------
    def running_attempt(self, db: DbSession, user: User) -> ExamAttempt | None:
        return db.scalar(
            select(ExamAttempt).where(ExamAttempt.user_id == user.id, ExamAttempt.status == "running")
        )

    def latest_attempt(self, db: DbSession, user: User) -> ExamAttempt:
        row = db.scalar(
            select(ExamAttempt).where(ExamAttempt.user_id == user.id).order_by(ExamAttempt.id.desc()).limit(1)
        )
        if row is None:
            raise Conflict("no exam attempt: start one from your scheduled exams")
        return row

    def start(self, db: DbSession, user: User, scheduled_id: int, now: float) -> ExamAttempt:
        """Begin an attempt (policy above) and open its first task; returns the attempt."""
        sched = self.scheduled_for(db, user, scheduled_id)
        exam = self.exam(sched.exam_id)
        with self.room.start_lock:
            db.refresh(sched)  # a cancel commits under the same lock: never start on a stale row
            deadline = start_deadline(sched.opens_at, sched.closes_at, sched.minutes, sched.cancelled_at, now)
            running = self.running_attempt(db, user)
            if running is not None:
                raise Conflict(f"you already run an exam attempt ({running.id}): submit it first")
            lab = db.scalar(
                select(LabSession).where(LabSession.user_id == user.id, LabSession.state.in_(RUNNING_STATES))
            )
            if lab is not None:
                raise Conflict(f"you run lab {lab.lab_id}: stop it before starting the exam")
            used = self.used_attempts(db, sched.id, user.id)
            if not attempts_left(sched.attempts, used):
                raise Conflict(f"you have used all {sched.attempts} attempt(s) of this exam")
            number = 1 + int(
                db.scalar(
                    select(func.count())
                    .select_from(ExamAttempt)
                    .where(ExamAttempt.scheduled_id == sched.id, ExamAttempt.user_id == user.id)
                )
                or 0
            )
            row = ExamAttempt(
                scheduled_id=sched.id,
                user_id=user.id,
                number=number,
                seed=random.SystemRandom().randrange(1, 10**6),
                status="running",
                started_at=now,
                deadline=deadline,
                current_task=1,
                tasks=[
                    {"task": t.index + 1, "lab": t.lab, "hints_used": 0, "files": None, "graded": None}
                    for t in exam.tasks
                ],
                reference_run=False,
                auto_submitted=False,
            )
            db.add(row)
            db.flush()
            accounts.audit(db, user, "exam.start", f"{exam.id} attempt={row.id} seed={row.seed}")
            db.commit()
        with self.lock(row.id):  # a cancel waits until the first task's sandbox is up, then stops it
            db.refresh(row)
            if row.status != "running":  # cancelled before this lock was taken: no sandbox for it
                raise Conflict("this exam was cancelled by the instructor")
            self._open_first_task(db, row, user)
        return row

    def _open_first_task(self, db: DbSession, row: ExamAttempt, user: User) -> None:
        """Start the new attempt's first task (under its lock); a start that fails is undone."""
        try:
            self._enter(db, row, user, 1)
        except BaseException:  # a start that never ran costs no attempt
            LOG.warning("event=exam.start_failed attempt=%s", row.id)
            db.rollback()
            db.execute(
                update(LabSession).where(LabSession.exam_attempt_id == row.id).values(exam_attempt_id=None)
            )
            db.delete(row)
            db.commit()
            raise

    def _current_session(self, db: DbSession, attempt: ExamAttempt) -> LabSession | None:
        return db.scalar(
            select(LabSession).where(
                LabSession.exam_attempt_id == attempt.id, LabSession.state.in_(RUNNING_STATES)
            )
        )

    def _start_sandbox(self, db: DbSession, attempt: ExamAttempt, user: User, task: int) -> LabSession:
        """A running lab session for task ``task`` of the attempt, on the trainee's variant."""
        exam = self._exam_of(db, attempt)
        lab_id = exam.tasks[task - 1].lab
        with self.room.start_lock:
            if not self.room.admit(db):  # a warm sandbox is no variant: any may make way
                raise ClassFull("class is full, try again in a few minutes")
            now = time.time()
            session = LabSession(
                user_id=user.id,
                lab_id=lab_id,
                sandbox="pending",
                state="starting",
                started_at=now,
                last_active_at=now,
                hints_used=0,
                detail=f"exam attempt {attempt.id} task {task}",
                exam_attempt_id=attempt.id,
            )
            db.add(session)
            db.flush()
            session.sandbox = f"{self.room.settings.sandbox_prefix}{session.id}"
            class_name = next(iter(accounts.user_classes(db, user.id)), "")
            db.commit()  # no database connection held while the sandbox starts
        try:
            self.room.backend.start(
                session.sandbox,
                lab_id,
                class_name=class_name,
                trainee=user.username,
                session=str(session.id),
                seed=attempt.seed,
            )
        except BaseException as exc:
            session.state, session.ended_at, session.detail = "failed", time.time(), str(exc)[:2000]
            db.commit()
            raise
        session.state, session.last_active_at = "running", time.time()
        db.commit()
        return session

    def _restore(self, session: LabSession, files: dict[str, str]) -> None:
        for path, text in sorted(files.items()):
            self.room.backend.write_file(session.sandbox, path, text)
        self.room.backend.deploy(session.sandbox)

    def _enter(self, db: DbSession, attempt: ExamAttempt, user: User, task: int) -> LabSession:
        session = self._start_sandbox(db, attempt, user, task)
        saved = attempt.tasks[task - 1].get("files")
        if saved:
            try:
                self._restore(session, saved)
            except BaseException:
                self.room.end_session(session.id, "failed", "the saved workspace did not deploy")
                raise
        attempt.current_task = task
        db.commit()
        return session

    def scenarios_of(self, exam: Exam, task: int, seed: int, include_hidden: bool) -> list[dict] | None:
        """Task ``task``'s scored scenarios for the variant of ``seed`` (``scenarios.to_raw`` mappings,
        variables filled), as sent to the sandbox with a grade request; None: the task has none."""
        from sdnlab.certification.scenarios import for_variant, to_raw

        spec = exam.tasks[task - 1]
        if not spec.scenarios:
            return None
        record = json.loads((self.variant(exam, task - 1, seed).path / "variant.json").read_text())
        values = record.get("values") or {}
        return [to_raw(for_variant(s, values)) for s in spec.scenarios if include_hidden or not s.hidden]

    def _grade_full(self, exam: Exam, task: int, sandbox: str, seed: int) -> dict:
        """Task ``task`` graded on its sandbox, hidden checks included: the task's checks, its scored
        scenarios measured on the network, and the score."""
        spec = exam.tasks[task - 1]
        scenarios = self.scenarios_of(exam, task, seed, include_hidden=True)
        try:
            report = self.room.backend.grade(sandbox, include_hidden=True, scenarios=scenarios)
            error = ""
        except SdnlabError as exc:  # a broken network scores 0 for the task, never aborts the exam
            report, error = {"checks": []}, str(exc)
        checks = selected_checks(report, task_checks(spec), include_hidden=True)
        percent, passed, total = task_score(checks)
        try:  # the switches' tables as graded (evidence)
            tables = self.room.backend.tables(sandbox)
        except SdnlabError as exc:
            tables = {"ERROR.txt": f"tables not collected: {exc}\n"}
        return {
            "tables": tables,
            "percent": percent,
            "checks_passed": passed,
            "checks_total": total,
            "error": error,
            "graded_at": time.time(),
            "report": {**{k: v for k, v in report.items() if k != "checks"}, "checks": checks},
            "measurements": report.get("measurements") or {},
        }

    def _save_files(self, sandbox: str) -> dict[str, str]:
        backend = self.room.backend
        return {f["path"]: backend.read_file(sandbox, f["path"]) for f in backend.list_files(sandbox)}

    def _leave(self, db: DbSession, attempt: ExamAttempt, exam: Exam, stop: bool = True) -> None:
        """Grade the current task on its network, save its files, and (``stop``) end its sandbox."""
        session = self._current_session(db, attempt)
        db.commit()  # no database connection held while the sandbox grades and its files are read
        if session is None or session.state != "running":
            return
        index = attempt.current_task - 1
        graded = self._grade_full(exam, attempt.current_task, session.sandbox, attempt.seed)
        try:
            files = self._save_files(session.sandbox)
        except SdnlabError as exc:
            files, graded["error"] = {}, graded["error"] or f"files not saved: {exc}"
        tasks = [dict(t) for t in attempt.tasks]
        tasks[index].update(graded=graded, files=files, stale=False)
        attempt.tasks = tasks
        db.commit()
        if stop:
            self.room.end_session(session.id, "stopped", f"exam attempt {attempt.id}: task left")

    def switch(self, db: DbSession, user: User, task: int, now: float) -> ExamAttempt:
        """Go to task ``task``: grade and leave the current one, start the new one's variant."""
        attempt = self._running(db, user, now)
        db.commit()  # no connection held while another step of this attempt finishes
        with self.lock(attempt.id):
            db.refresh(attempt)
            if attempt.status != "running":
                raise Conflict("the exam has ended")
            exam = self._exam_of(db, attempt)
            if not 1 <= task <= len(exam.tasks):
                raise ClassroomError(f"task {task}: the exam has tasks 1..{len(exam.tasks)}")
            current = self._current_session(db, attempt)
            if task == attempt.current_task and current is not None and current.state == "running":
                raise Conflict(f"you are on task {task} already")
            self._leave(db, attempt, exam)
            self._enter(db, attempt, user, task)
            accounts.audit(db, user, "exam.task", f"attempt={attempt.id} task={task}")
            db.commit()
        return attempt

    def _exam_of(self, db: DbSession, attempt: ExamAttempt) -> Exam:
        return self.exam(scheduled_of(db, attempt).exam_id)

    def _running(self, db: DbSession, user: User, now: float) -> ExamAttempt:
        """The caller's running attempt (submitted first if its time is up: then 409)."""
        attempt = self.running_attempt(db, user)
        if attempt is None:
            raise Conflict("no exam running: start one from your scheduled exams")
        if now >= attempt.deadline:
            db.commit()  # the submit grades in sessions of its own
            self.submit(attempt.id, now, auto=True)
            raise Conflict("time is up: your exam was submitted")
        return attempt

    def running_session(self, db: DbSession, user: User, now: float) -> tuple[ExamAttempt, LabSession]:
        attempt = self._running(db, user, now)
        session = self._current_session(db, attempt)
        if session is None or session.state != "running":
            raise Conflict(
                f"the lab of task {attempt.current_task} is not running: open the task again to restart it"
            )
        return attempt, session

    def check(self, db: DbSession, user: User, now: float) -> dict:
        """The current task's public checks, graded now (recorded as a check attempt)."""
        attempt, session = self.running_session(db, user, now)
        exam = self._exam_of(db, attempt)
        spec = exam.tasks[attempt.current_task - 1]
        scenarios = self.scenarios_of(exam, attempt.current_task, attempt.seed, include_hidden=False)
        db.commit()  # no database connection held while the sandbox grades (seconds; a class checks at once)
        started = time.perf_counter()
        with self.room.grading():
            report = self.room.backend.grade(session.sandbox, include_hidden=False, scenarios=scenarios)
        seconds = time.perf_counter() - started
        checks = selected_checks(report, task_checks(spec), include_hidden=False)
        percent, passed, total = task_score(checks)
        db.add(
            Attempt(
                session_id=session.id,
                user_id=user.id,
                lab_id=session.lab_id,
                kind="check",
                percent=percent,
                passed=passed == total and total > 0,
                elapsed_s=seconds,
                created_at=now,
                report={**report, "checks": checks},
            )
        )
        session.last_active_at = now
        db.commit()
        return {
            "task": attempt.current_task,
            "lab": session.lab_id,
            "percent": percent,
            "checks_passed": passed,
            "checks_total": total,
            "checks": checks,
            "note": "public checks only; hidden checks are graded at submit",
        }

    def hint(self, db: DbSession, user: User, now: float) -> dict:
        """The current task's next hint, when the exam allows hints (its cost is recorded)."""
        attempt, session = self.running_session(db, user, now)
        sched = scheduled_of(db, attempt)
        if not sched.hints_allowed:
            raise Conflict("this exam allows no hints")
        exam = self.exam(sched.exam_id)
        index = attempt.current_task - 1
        lab = self.variant(exam, index, attempt.seed)
        used = int(attempt.tasks[index].get("hints_used", 0))
        if used >= len(lab.hints):
            raise Conflict(f"no more hints: you have seen all {len(lab.hints)} hints of task {index + 1}")
        tasks = [dict(t) for t in attempt.tasks]
        tasks[index]["hints_used"] = used + 1
        attempt.tasks = tasks
        session.hints_used += 1
        db.add(
            Hint(
                session_id=session.id,
                user_id=user.id,
                lab_id=lab.id,
                number=session.hints_used,
                created_at=now,
            )
        )
        accounts.audit(db, user, "exam.hint", f"attempt={attempt.id} task={index + 1} number={used + 1}")
        db.commit()
        total_hints = sum(int(t.get("hints_used", 0)) for t in tasks)
        text = lab.hints[used]
        return {
            "task": index + 1,
            "number": used + 1,
            "total": len(lab.hints),
            "text": {"en": text.en, "ja": text.ja},
            "cost_percent": sched.hint_cost,
            "hints_used": total_hints,
            "points_lost": round(total_hints * sched.hint_cost, 1),
        }

    def solve(self, db: DbSession, attempt: ExamAttempt, instructor: User, now: float) -> dict:
        """Instructor: the reference solution of the trainee's variant on every task; a reference run."""
        from sdnlab.labs.workspace import read_text

        if attempt.status != "running" or now >= attempt.deadline:
            raise Conflict(f"attempt {attempt.id} is not running")
        db.commit()  # no connection held while another step of this attempt finishes
        with self.lock(attempt.id):
            db.refresh(attempt)
            if attempt.status != "running":
                raise Conflict(f"attempt {attempt.id} is not running")
            exam = self._exam_of(db, attempt)
            attempt.reference_run = True
            tasks = [dict(t) for t in attempt.tasks]
            for index in range(len(exam.tasks)):
                solution = self.variant(exam, index, attempt.seed).solution_dir
                files = {
                    p.relative_to(solution).as_posix(): read_text(p, ClassroomError)
                    for p in sorted(solution.rglob("*"))
                    if p.is_file() and "__pycache__" not in p.parts
                }
                tasks[index].update(files=files, stale=True)
            attempt.tasks = tasks
            accounts.audit(db, instructor, "exam.solve", f"attempt={attempt.id}")
            db.commit()
            session = self._current_session(db, attempt)
            db.commit()  # no database connection held while the sandbox deploys
            if session is not None and session.state == "running":
                self._restore(session, tasks[attempt.current_task - 1]["files"])
        return {"attempt": attempt.id, "reference_run": True, "tasks": len(exam.tasks)}

    # -- submit ----------------------------------------------------------------------------
    def submit_expired(self, now: float | None = None) -> list[int]:
        """Submit every running attempt whose deadline has passed; their ids."""
        now = time.time() if now is None else now
        with self.room.factory() as db:
            due = list(
                db.scalars(
                    select(ExamAttempt.id).where(ExamAttempt.status == "running", ExamAttempt.deadline <= now)
                )
            )
        for attempt_id in due:
            self.submit(attempt_id, now, auto=True)
        return due

    def _grade_offsite(self, db: DbSession, attempt: ExamAttempt, user: User, exam: Exam, task: int) -> dict:
        """Grade saved files of a task that is not running, in a short-lived sandbox of its variant."""
        session = self._start_sandbox(db, attempt, user, task)
        try:
            self._restore(session, attempt.tasks[task - 1]["files"])
            return self._grade_full(exam, task, session.sandbox, attempt.seed)
        finally:
            self.room.end_session(session.id, "stopped", f"exam attempt {attempt.id}: graded at submit")

    def submit(self, attempt_id: int, now: float, auto: bool = False) -> None:
        """Grade, score, write the evidence bundle and, when passed, sign the certificate (idempotent)."""
        with self.lock(attempt_id), self.room.factory() as db:
            attempt = db.get(ExamAttempt, attempt_id)
            if attempt is None or attempt.status != "running":
                return
            user = db.get(User, attempt.user_id)
            sched = scheduled_of(db, attempt)
            if user is None:
                return
            exam = self.exam(sched.exam_id)
            self._leave(db, attempt, exam)
            leftover = self._current_session(db, attempt)  # one still starting, or whose grading failed
            db.commit()
            if leftover is not None:
                self.room.end_session(leftover.id, "stopped", f"exam attempt {attempt.id} submitted")
            for index, state in enumerate(attempt.tasks):
                if state.get("files") and (state.get("stale") or not state.get("graded")):
                    try:
                        graded = self._grade_offsite(db, attempt, user, exam, index + 1)
                    except SdnlabError as exc:
                        graded = {"percent": 0.0, "checks_passed": 0, "checks_total": 0, "error": str(exc)}
                    tasks = [dict(t) for t in attempt.tasks]
                    tasks[index].update(graded=graded, stale=False)
                    attempt.tasks = tasks
            self._finish(db, attempt, user, sched, exam, now, auto)

    def _finish(
        self,
        db: DbSession,
        attempt: ExamAttempt,
        user: User,
        sched: ScheduledExam,
        exam: Exam,
        now: float,
        auto: bool,
    ) -> None:
        from sdnlab.certification import bundle
        from sdnlab.certification.canonical import pretty
        from sdnlab.certification.evidence import CheckSkills, Outcome, lab_check_skills, skill_levels
        from sdnlab.certification.framework import load_framework

        files: dict[str, bytes] = {}
        outcomes: list[Outcome] = []
        task_rows = []
        for task, state in zip(exam.tasks, attempt.tasks, strict=True):
            graded = state.get("graded") or {
                "percent": 0.0,
                "checks_passed": 0,
                "checks_total": 0,
                "error": "not attempted",
            }
            task_rows.append(
                {
                    "task": task.index + 1,
                    "lab": task.lab,
                    "weight": task.weight,
                    "percent": graded["percent"],
                    "checks_passed": graded["checks_passed"],
                    "checks_total": graded["checks_total"],
                    "hints_used": int(state.get("hints_used", 0)),
                    "error": graded.get("error", ""),
                }
            )
            lab = self.variant(exam, task.index, attempt.seed)
            name = f"tasks/{task.index + 1}-{task.lab}"
            report = graded.get("report", {"checks": []})
            files[f"{name}/report.json"] = pretty({**report, "error": graded.get("error", "")}).encode()
            files[f"{name}/variant.json"] = (lab.path / "variant.json").read_bytes()
            for path, text in sorted((state.get("files") or {}).items()):
                files[f"{name}/workspace/{path}"] = text.encode()
            for table, text in sorted((graded.get("tables") or {}).items()):
                files[f"{name}/tables/{table}"] = text.encode()
            if task.scenarios:  # what each scored scenario measured on the network (hashed in the manifest)
                files[f"{name}/measurements.json"] = pretty(graded.get("measurements") or {}).encode()
            skills = lab_check_skills(lab.path)
            for scenario in task.scenarios:
                skills[scenario.id] = CheckSkills(task.lab, scenario.id, dict(scenario.skills), exam.source)
            for check in report.get("checks", []):
                named = skills.get(check.get("id", ""))
                outcomes.append(
                    Outcome(
                        task.lab,
                        str(check.get("id")),
                        float(check.get("weight", 0.0)),
                        float(check.get("score", 0.0)),
                        dict(named.skills) if named else {},
                    )
                )
        hints_used = sum(r["hints_used"] for r in task_rows)
        raw, percent = exam_percent(
            [(r["weight"], r["percent"]) for r in task_rows], hints_used, sched.hint_cost
        )
        passed = percent >= sched.pass_percent
        framework = load_framework()
        levels = skill_levels(outcomes, framework)
        certified = {s: levels[s].level for s in exam.certifies if levels[s].level >= 1}
        group = db.get(ClassGroup, sched.class_id)
        facts = {
            "attempt": self.attempt_name(attempt, exam),
            "exam": exam.id,
            "trainee": user.username,
            "class": group.name if group else "",
            "scheduled_exam": sched.id,
            "seed": attempt.seed,
            "mode": f"classroom/{self.room.backend.kind}",
            "reference_run": attempt.reference_run,
            "started": iso(attempt.started_at),
            "deadline": iso(attempt.deadline),
            "graded": iso(now),
            "auto_submitted": auto,
            "late_by_s": round(max(0.0, now - attempt.deadline), 1),
        }
        summary = {
            "percent": percent,
            "raw_percent": raw,
            "hints_used": hints_used,
            "hint_cost": sched.hint_cost,
            "pass_percent": sched.pass_percent,
            "passed": passed,
            "tasks": task_rows,
            "skills": certified,
            "framework_version": framework.version,
        }
        files["attempt.json"] = pretty({**facts, "result": summary}).encode()
        files["exam.yaml"] = Path(exam.source).read_bytes()
        files["terminal/history.txt"] = self.history_text(db, attempt).encode()
        with tempfile.TemporaryDirectory(prefix="evidence-", dir=self.room.state_dir) as scratch:
            info = bundle.write_bundle(Path(scratch) / "evidence.zip", files, facts)
            attempt.evidence = info.path.read_bytes()
        handed_in = db.execute(  # only from running: a cancel committed during the grading wins
            update(ExamAttempt)
            .where(ExamAttempt.id == attempt.id, ExamAttempt.status == "running")
            .values(status="submitted")
            .execution_options(synchronize_session=False)
        )
        if handed_in.rowcount != 1:  # type: ignore[attr-defined]
            db.rollback()
            LOG.info("event=exam.submit_void attempt=%s reason=cancelled", attempt.id)
            return
        attempt.manifest_sha256 = info.manifest_sha256
        attempt.status, attempt.submitted_at, attempt.auto_submitted = "submitted", now, auto
        attempt.percent, attempt.passed, attempt.result = percent, passed, summary
        if passed:
            self._certify(attempt, user, exam, summary, facts, info, framework, now)
        accounts.audit(
            db,
            user,
            "exam.submit",
            f"attempt={attempt.id} percent={percent} passed={passed} auto={auto}",
        )
        db.commit()
        LOG.info(
            "event=exam.submit attempt=%s user=%s percent=%s passed=%s auto=%s",
            attempt.id,
            user.username,
            percent,
            passed,
            auto,
        )

    def _certify(self, attempt, user, exam, summary, facts, info, framework, now) -> None:
        from sdnlab.certification import credential
        from sdnlab.certification.canonical import pretty

        cert = credential.CertificateFacts(
            trainee=user.username,
            exam_id=exam.id,
            exam_title=exam.title_en,
            framework_version=summary["framework_version"],
            skills=dict(summary["skills"]),
            score_percent=summary["percent"],
            pass_percent=summary["pass_percent"],
            issued=credential.now_iso(now),
            attempt_id=facts["attempt"],
            seed=attempt.seed,
            manifest_sha256=info.manifest_sha256,
            bundle_sha256=info.bundle_sha256,
            reference_run=attempt.reference_run,
            skill_names={s: framework.skills[s].title.en for s in summary["skills"] if s in framework.skills},
        )
        document = credential.build(cert, self.key, now)
        attempt.certificate = pretty(document)
        attempt.credential_id = str(document["id"])

    # -- printable certificates ----------------------------------------------------------
    @staticmethod
    def certificate_html(document: str, lang: str) -> str:
        """The printable page of a signed certificate (``lang`` en or ja)."""
        from sdnlab.certification.credential import facts_of
        from sdnlab.certification.framework import load_framework
        from sdnlab.certification.page import render_html

        framework = load_framework()
        names = {level: framework.level_name(level, lang) for level in framework.levels}
        return render_html(facts_of(json.loads(document)), lang, names)

    def certificate_pdf(self, document: str, lang: str) -> bytes:
        """The printable page as PDF, printed by headless Chromium (call it off the event loop, with
        no database connection held); ``PrintUnavailable`` (503) with the reason when it cannot be."""
        import hashlib

        from sdnlab.certification.page import PrintError, print_pdf

        page = self.certificate_html(document, lang)
        digest = hashlib.sha256(page.encode()).hexdigest()
        kept = self.room.state_dir / "certificates" / f"{digest}.pdf"
        if kept.is_file():
            return kept.read_bytes()
        timeout = self.room.settings.pdf_timeout_s
        # one print of a page at a time: a download of a page being printed waits for that print
        with self._pages.hold(digest, timeout=timeout + PRINTER_WAIT_S) as mine:
            if not mine:
                raise PrintUnavailable("this certificate is being printed: try again in a minute")
            if kept.is_file():  # printed while this download waited
                return kept.read_bytes()
            if not self._printers.acquire(timeout=min(timeout, PRINTER_WAIT_S)):
                raise PrintUnavailable("the server is printing other certificates: try again in a minute")
            try:
                data = print_pdf(page, timeout=timeout)
            except PrintError as exc:
                LOG.warning("event=certificate.pdf error=%r", str(exc))
                advice = "open the printable page and print it from your browser"
                raise PrintUnavailable(f"{exc}; {advice}") from None
            finally:
                self._printers.release()
            try:  # kept for the next download; a full or read-only state folder only costs a reprint
                kept.parent.mkdir(mode=0o700, exist_ok=True)
                scratch = kept.with_suffix(f".{threading.get_ident()}.part")
                scratch.write_bytes(data)
                scratch.replace(kept)
            except OSError as exc:
                LOG.warning("event=certificate.pdf_keep path=%s error=%r", kept, str(exc))
            return data

    @staticmethod
    def attempt_name(attempt: ExamAttempt, exam: Exam) -> str:
        return f"{exam.id}-classroom-{attempt.id}"

    def history_text(self, db: DbSession, attempt: ExamAttempt) -> str:
        """The terminal lines typed in the attempt's sessions: ``TIME [task N lab] LINE`` per line."""
        rows = db.execute(
            select(TerminalLine.at, TerminalLine.line, LabSession.lab_id)
            .join(LabSession, LabSession.id == TerminalLine.session_id)
            .where(LabSession.exam_attempt_id == attempt.id)
            .order_by(TerminalLine.id)
        ).all()
        return "".join(f"{iso(at)} [{lab}] {line}\n" for at, line, lab in rows)
