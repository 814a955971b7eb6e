"""Exams: instructors schedule catalogue exams for their classes and read the results; trainees take them.

The logic and the policy live in ``proctor.py``; these handlers check who is asking and shape
the answers. Trainees reach only their own attempts and certificates (another trainee's
attempt id answers 404, as an unknown one does) and never see hidden checks' texts or
per-check results; instructors reach the attempts, and the printable certificates, of the
trainees of their classes. Handlers are plain functions, which FastAPI runs in its thread pool:
a grading or a PDF print (seconds) never blocks the event loop, and none of them holds a
database connection while a sandbox or Chromium works.
"""

import csv
import io
import time

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from sdnlab.classroom.db import ClassGroup, ExamAttempt, ScheduledExam, User
from sdnlab.classroom.deps import AnyUser, Db, Instructor, Room, visible_users
from sdnlab.classroom.errors import ClassroomError, Conflict, NotFound
from sdnlab.classroom.proctor import Proctor, attempts_left, iso, scheduled_of

router = APIRouter(prefix="/api")


class ScheduleBody(BaseModel):
    exam: str = Field(max_length=64)
    class_name: str = Field(alias="class", max_length=64)
    opens_at: float
    closes_at: float
    minutes: float | None = None
    hints_allowed: bool | None = None
    hint_cost: float | None = None


RESULT_FIELDS = (
    "attempt", "user", "number", "status", "started_at", "deadline", "submitted_at", "auto_submitted",
    "reference_run", "percent", "passed", "hints_used", "seed", "certificate",
)  # fmt: skip


class TaskBody(BaseModel):
    task: int


def _scheduled_dict(db: DbSession, proctor: Proctor, row: ScheduledExam, now: float) -> dict:
    exam = proctor.exam(row.exam_id)
    group = db.get(ClassGroup, row.class_id)
    if row.cancelled_at is not None:
        state = "cancelled"
    elif now < row.opens_at:
        state = "upcoming"
    elif now < row.closes_at:
        state = "open"
    else:
        state = "closed"
    return {
        "id": row.id,
        "exam": row.exam_id,
        "title": {"en": exam.title_en, "ja": exam.title_ja},
        "class": group.name if group else "",
        "opens_at": row.opens_at,
        "closes_at": row.closes_at,
        "minutes": row.minutes,
        "attempts": row.attempts,
        "hints": {"allowed": row.hints_allowed, "cost_percent": row.hint_cost},
        "pass_percent": row.pass_percent,
        "tasks": len(exam.tasks),
        "state": state,
        "cancelled_at": row.cancelled_at,
    }


def _trainee_result(attempt: ExamAttempt) -> dict | None:
    """What a trainee sees of a submitted attempt: scores and counts, no check texts."""
    if attempt.status != "submitted" or attempt.result is None:
        return None
    result = attempt.result
    return {
        "percent": result["percent"],
        "raw_percent": result["raw_percent"],
        "passed": result["passed"],
        "pass_percent": result["pass_percent"],
        "hints_used": result["hints_used"],
        "skills": result["skills"],
        "tasks": [
            {k: t[k] for k in ("task", "lab", "weight", "percent", "checks_passed", "checks_total")}
            for t in result["tasks"]
        ],
        "certificate": attempt.certificate is not None,
        "auto_submitted": attempt.auto_submitted,
    }


def _attempt_summary(attempt: ExamAttempt, username: str) -> dict:
    return {
        "attempt": attempt.id,
        "scheduled_exam": attempt.scheduled_id,
        "user": username,
        "number": attempt.number,
        "seed": attempt.seed,
        "status": attempt.status,
        "started_at": attempt.started_at,
        "deadline": attempt.deadline,
        "submitted_at": attempt.submitted_at,
        "auto_submitted": attempt.auto_submitted,
        "reference_run": attempt.reference_run,
        "percent": attempt.percent,
        "passed": attempt.passed,
        "hints_used": sum(int(t.get("hints_used", 0)) for t in attempt.tasks),
        "certificate": attempt.certificate is not None,
    }


# ---------------------------------------------------------------- instructors


@router.get("/exams/catalogue", tags=["exams"])
def catalogue(user: Instructor, room: Room):
    """The exams an instructor can schedule (from the catalogue)."""
    return {
        "exams": [
            {
                "id": e.id,
                "title": {"en": e.title_en, "ja": e.title_ja},
                "minutes": e.minutes,
                "pass_percent": e.pass_percent,
                "attempts": e.attempts,
                "hints": {"allowed": e.hints_allowed, "cost_percent": e.hint_cost},
                "tasks": [{"task": t.index + 1, "lab": t.lab, "weight": t.weight} for t in e.tasks],
                "certifies": list(e.certifies),
                "schedulable": not any(t.scenarios for t in e.tasks),
            }
            for e in room.proctor.catalogue()
        ]
    }


@router.post("/exams/scheduled", tags=["exams"])
def schedule(body: ScheduleBody, db: Db, user: Instructor, room: Room):
    """Schedule an exam for one of the caller's classes: window (UNIX times), duration, hint policy."""
    row = room.proctor.schedule(
        db,
        user,
        body.exam,
        body.class_name,
        body.opens_at,
        body.closes_at,
        body.minutes,
        body.hints_allowed,
        body.hint_cost,
        time.time(),
    )
    return _scheduled_dict(db, room.proctor, row, time.time())


@router.get("/exams/scheduled", tags=["exams"])
def scheduled(db: Db, user: Instructor, room: Room):
    """The exams scheduled for the caller's classes (admins: all)."""
    now = time.time()
    return {
        "scheduled": [
            _scheduled_dict(db, room.proctor, r, now) for r in room.proctor.visible_scheduled(db, user)
        ]
    }


@router.post("/exams/scheduled/{scheduled_id}/cancel", tags=["exams"])
def cancel(scheduled_id: int, db: Db, user: Instructor, room: Room):
    """Cancel a scheduled exam: no new starts, and the attempts in progress are closed as cancelled
    (not graded, no certificate, not counted; files kept, sandboxes stopped). Answers how many."""
    done = room.proctor.cancel(db, user, scheduled_id, time.time())
    return {
        **_scheduled_dict(db, room.proctor, done.scheduled, time.time()),
        "attempts_cancelled": len(done.cancelled_attempts),  # what the cancel's update wrote
    }


@router.get("/exams/scheduled/{scheduled_id}/results", tags=["exams"])
def results(scheduled_id: int, db: Db, user: Instructor, room: Room, format: str = "json"):
    """Every attempt at a scheduled exam by the trainees the caller follows (``format=csv`` too)."""
    sched = room.proctor.scheduled_for(db, user, scheduled_id)
    ids = visible_users(db, user)
    query = (
        select(ExamAttempt, User.username)
        .join(User, User.id == ExamAttempt.user_id)
        .where(ExamAttempt.scheduled_id == sched.id)
        .order_by(ExamAttempt.id)
    )
    if ids is not None:
        query = query.where(ExamAttempt.user_id.in_(ids))
    rows = []
    for attempt, name in db.execute(query):
        row = _attempt_summary(attempt, name)
        for task in (attempt.result or {}).get("tasks", []):
            row[f"task{task['task']}_percent"] = task["percent"]
        rows.append(row)
    if format == "csv":
        out = io.StringIO()
        fields = list(dict.fromkeys([*RESULT_FIELDS, *(k for r in rows for k in r)]))
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return PlainTextResponse(out.getvalue(), media_type="text/csv")
    if format != "json":
        raise ClassroomError(f"format {format[:8]!r}: json or csv")
    return {"scheduled_exam": _scheduled_dict(db, room.proctor, sched, time.time()), "results": rows}


def _followed_attempt(db: DbSession, user: User, attempt_id: int) -> ExamAttempt:
    ids = visible_users(db, user)
    row = db.get(ExamAttempt, attempt_id)
    if row is None or (ids is not None and row.user_id not in ids):
        raise NotFound(f"no exam attempt {attempt_id}")
    return row


@router.get("/exams/attempts/{attempt_id}", tags=["exams"])
def attempt_detail(attempt_id: int, db: Db, user: Instructor, room: Room):
    """A followed trainee's attempt in full: every check (hidden ones too) and the terminal history."""
    row = _followed_attempt(db, user, attempt_id)
    owner = db.get(User, row.user_id)
    tasks = [
        {
            "task": t["task"],
            "lab": t["lab"],
            "hints_used": t.get("hints_used", 0),
            "graded": t.get("graded"),
            "files": sorted(t.get("files") or {}),
        }
        for t in row.tasks
    ]
    return {
        **_attempt_summary(row, owner.username if owner else "?"),
        "current_task": row.current_task,
        "result": row.result,
        "tasks": tasks,
        "terminal_history": room.proctor.history_text(db, row).splitlines(),
        "manifest_sha256": row.manifest_sha256,
    }


@router.get("/exams/attempts/{attempt_id}/evidence", tags=["exams"])
def attempt_evidence(attempt_id: int, db: Db, user: Instructor):
    """The evidence bundle (zip) of a submitted attempt (it holds hidden checks: instructors only)."""
    row = _followed_attempt(db, user, attempt_id)
    if row.evidence is None:
        raise Conflict(f"attempt {attempt_id} is not submitted yet")
    return Response(
        row.evidence,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="evidence-{row.id}.zip"'},
    )


@router.post("/exams/attempts/{attempt_id}/solve", tags=["exams"])
def solve(attempt_id: int, db: Db, user: Instructor, room: Room):
    """Put the reference solution of the trainee's variant on every task (marks a reference run)."""
    row = _followed_attempt(db, user, attempt_id)
    return room.proctor.solve(db, row, user, time.time())


@router.get("/exams/issuer-key", tags=["exams"])
def issuer_key(user: AnyUser, room: Room):
    """The server's public signing key (PEM): what `sdnlab cert verify --key` needs."""
    return PlainTextResponse(room.proctor.public_key_pem(), media_type="application/x-pem-file")


# ---------------------------------------------------------------- trainees


@router.get("/exams", tags=["exams"])
def my_exams(db: Db, user: AnyUser, room: Room):
    """The exams scheduled for the caller's classes, with the attempts left and their own results."""
    now = time.time()
    proctor = room.proctor
    running = proctor.running_attempt(db, user)
    if running is not None and now >= running.deadline:
        db.commit()  # the submit grades in sessions of its own
        proctor.submit(running.id, now, auto=True)
    out = []
    for row in proctor.visible_scheduled(db, user):
        mine = db.scalars(
            select(ExamAttempt)
            .where(ExamAttempt.scheduled_id == row.id, ExamAttempt.user_id == user.id)
            .order_by(ExamAttempt.id)
        ).all()
        for attempt in mine:
            db.refresh(attempt)
        used = sum(1 for a in mine if not a.reference_run and a.status != "cancelled")
        out.append(
            {
                **_scheduled_dict(db, proctor, row, now),
                "attempts_left": attempts_left(row.attempts, used),
                "my_attempts": [
                    {
                        "attempt": a.id,
                        "number": a.number,
                        "status": a.status,
                        "started_at": a.started_at,
                        "deadline": a.deadline,
                        "result": _trainee_result(a),
                    }
                    for a in mine
                ],
            }
        )
    return {"exams": out, "now": now}


@router.post("/exams/{scheduled_id}/start", tags=["exams"])
def start(scheduled_id: int, db: Db, user: AnyUser, room: Room):
    """Start an attempt: a fresh seed (the caller's variant) and task 1's lab in their sandbox."""
    room.proctor.start(db, user, scheduled_id, time.time())
    return status(db, user, room)


@router.get("/exam", tags=["exams"])
def status(db: Db, user: AnyUser, room: Room):
    """The caller's current (or last) attempt: time left, tasks, the current task's text; the result after."""
    from markdown_it import MarkdownIt

    now = time.time()
    proctor = room.proctor
    attempt = proctor.latest_attempt(db, user)
    if attempt.status == "running" and now >= attempt.deadline:
        db.commit()  # the submit grades in sessions of its own
        proctor.submit(attempt.id, now, auto=True)
    db.refresh(attempt)
    sched = scheduled_of(db, attempt)
    exam = proctor.exam(sched.exam_id)
    tasks = []
    for task, state in zip(exam.tasks, attempt.tasks, strict=True):
        lab = proctor.variant(exam, task.index, attempt.seed)
        checks = [(b.id, b.description, b.hidden) for b in lab.behaviours] + [
            (p.id, p.description, p.hidden) for p in lab.probes
        ]
        chosen = [c for c in checks if task.checks is None or c[0] in task.checks]
        tasks.append(
            {
                "task": task.index + 1,
                "lab": task.lab,
                "title": {"en": lab.title.en, "ja": lab.title.ja},
                "weight": task.weight,
                "public_checks": [f"{cid}: {text}" for cid, text, hidden in chosen if not hidden],
                "hidden_checks": sum(1 for c in chosen if c[2]),
                "hints_used": state.get("hints_used", 0),
                "hints": len(lab.hints),
                "visited": state.get("graded") is not None or attempt.current_task == task.index + 1,
            }
        )
    answer = {
        "attempt": attempt.id,
        "exam": exam.id,
        "title": {"en": exam.title_en, "ja": exam.title_ja},
        "status": attempt.status,
        "seed": attempt.seed,
        "started_at": attempt.started_at,
        "deadline": attempt.deadline,
        "deadline_iso": iso(attempt.deadline),
        "seconds_left": max(0.0, round(attempt.deadline - now, 1)) if attempt.status == "running" else 0.0,
        "now": now,
        "pass_percent": sched.pass_percent,
        "hints": {"allowed": sched.hints_allowed, "cost_percent": sched.hint_cost},
        "current_task": attempt.current_task,
        "tasks": tasks,
        "result": _trainee_result(attempt),
    }
    if attempt.status == "cancelled":
        answer["cancelled_at"] = sched.cancelled_at
        answer["note"] = "the instructor cancelled this exam: the attempt was closed without a result"
    if attempt.status == "running":
        lab = proctor.variant(exam, attempt.current_task - 1, attempt.seed)
        markdown = lab.task_text("en")
        answer["task_html"] = {
            lang: MarkdownIt("commonmark", {"html": False}).enable("table").render(lab.task_text(lang))
            for lang in ("en", "ja")
        }
        answer["task_markdown"] = markdown
    return answer


@router.post("/exam/task", tags=["exams"])
def switch_task(body: TaskBody, db: Db, user: AnyUser, room: Room):
    """Go to another task (the one left is graded and saved; coming back restores its files)."""
    room.proctor.switch(db, user, body.task, time.time())
    return status(db, user, room)


@router.post("/exam/check", tags=["exams"])
def check(db: Db, user: AnyUser, room: Room):
    """Grade the current task's public checks."""
    return room.proctor.check(db, user, time.time())


@router.post("/exam/hint", tags=["exams"])
def hint(db: Db, user: AnyUser, room: Room):
    """The current task's next hint (if the exam allows hints; each costs exam points)."""
    return room.proctor.hint(db, user, time.time())


@router.post("/exam/submit", tags=["exams"])
def submit(db: Db, user: AnyUser, room: Room):
    """Hand the exam in now: every task graded (hidden checks too), the result, the certificate if passed."""
    attempt = room.proctor.running_attempt(db, user)
    if attempt is None:
        raise Conflict("no exam running")
    db.commit()  # the submit grades in sessions of its own
    room.proctor.submit(attempt.id, time.time(), auto=False)
    return status(db, user, room)


@router.get("/me/certificates", tags=["exams"])
def my_certificates(db: Db, user: AnyUser, room: Room):
    """The caller's certificates (passed exams)."""
    rows = db.scalars(
        select(ExamAttempt)
        .where(ExamAttempt.user_id == user.id, ExamAttempt.certificate.is_not(None))
        .order_by(ExamAttempt.id)
    ).all()
    out = []
    for row in rows:
        sched = db.get(ScheduledExam, row.scheduled_id)
        out.append(
            {
                "attempt": row.id,
                "exam": sched.exam_id if sched else "",
                "percent": row.percent,
                "submitted_at": row.submitted_at,
                "credential_id": row.credential_id,
                "reference_run": row.reference_run,
            }
        )
    return {"certificates": out}


def _own_certificate(db: DbSession, user: User, attempt_id: int) -> str:
    row = db.get(ExamAttempt, attempt_id)
    if row is None or row.user_id != user.id or row.certificate is None:
        raise NotFound(f"no certificate {attempt_id} of yours")
    return row.certificate


def _viewable_certificate(db: DbSession, user: User, attempt_id: int) -> str:
    """The caller's own certificate, or (instructors) one of a trainee of their classes; 404 otherwise."""
    row = db.get(ExamAttempt, attempt_id)
    if row is not None and row.certificate is not None:
        if row.user_id == user.id:
            return row.certificate
        if user.role != "trainee":
            ids = visible_users(db, user)
            if ids is None or row.user_id in ids:
                return row.certificate
    raise NotFound(f"no certificate {attempt_id} of yours")


def _language(lang: str) -> str:
    if lang not in ("en", "ja"):
        raise ClassroomError(f"lang {lang[:8]!r}: en or ja")
    return lang


@router.get("/me/certificates/{attempt_id}", tags=["exams"])
def certificate(attempt_id: int, db: Db, user: AnyUser):
    """The signed certificate (Open Badges 3.0 JSON, byte for byte what `sdnlab cert verify` checks)."""
    document = _own_certificate(db, user, attempt_id)
    return Response(
        document.encode(),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="certificate-{attempt_id}.json"'},
    )


@router.get("/me/certificates/{attempt_id}/page", tags=["exams"])
def certificate_page(attempt_id: int, db: Db, user: AnyUser, room: Room, lang: str = "en"):
    """The printable certificate page (HTML, ``lang`` en or ja): the caller's own, or for instructors
    a trainee's of their classes."""
    lang = _language(lang)
    document = _viewable_certificate(db, user, attempt_id)
    return HTMLResponse(room.proctor.certificate_html(document, lang))


@router.get("/me/certificates/{attempt_id}/pdf", tags=["exams"])
def certificate_pdf(attempt_id: int, db: Db, user: AnyUser, room: Room, lang: str = "en"):
    """The printable certificate as PDF (``lang`` en or ja), printed by headless Chromium on the
    server; who may fetch it as for the page. 503 with the reason when the server cannot print."""
    lang = _language(lang)
    document = _viewable_certificate(db, user, attempt_id)
    db.commit()  # no database connection held while Chromium prints (a second or more)
    data = room.proctor.certificate_pdf(document, lang)
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="certificate-{attempt_id}.{lang}.pdf"'},
    )
