"""The trainee's running lab: its state, workspace files, deploy, check, submit, hints, stop; their results.

Trainees reach only their own session, files and results; hidden checks appear to them only
as counts. Results are written here, from the grader's report, never by the trainee.
"""

import time

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from sdnlab.classroom import accounts
from sdnlab.classroom.db import Attempt, ExamAttempt, Hint, LabSession, Result, TerminalLine, User
from sdnlab.classroom.deps import AnyUser, Db, Room, lab_or_404, running, touch
from sdnlab.classroom.errors import Conflict
from sdnlab.classroom.room import LOG, Classroom
from sdnlab.classroom.sandbox import workspace_path
from sdnlab.classroom.views import hidden_checks, language, public_report, result_dict, session_dict

router = APIRouter(prefix="/api")


class FileBody(BaseModel):
    content: str


def not_exam(row: LabSession) -> None:
    """Lab-only actions are refused on an exam task (the exam's own check, hint and submit apply)."""
    if row.exam_attempt_id is not None:
        raise Conflict("this lab is a task of your exam: use the exam's check, hint and submit")


def exam_time_left(db: DbSession, row: LabSession) -> None:
    """From an exam's time limit on, its network and files stay as they are for grading."""
    if row.exam_attempt_id is None:
        return
    attempt = db.get(ExamAttempt, row.exam_attempt_id)
    if attempt is not None and attempt.status == "cancelled":
        raise Conflict("the instructor cancelled this exam: your attempt is closed")
    if attempt is None or attempt.status != "running" or time.time() >= attempt.deadline:
        raise Conflict("time is up: the exam is graded as it was at the time limit")


@router.get("/session", tags=["session"])
def session_info(db: Db, user: AnyUser, room: Room, touch_it: bool = Query(True, alias="touch")):
    """The caller's running lab: state and topology (hosts with addresses, switches, links with ports
    and their state). ``touch=false`` reads it without counting as activity (the lab page's refresh),
    so an open browser tab does not keep an idle sandbox alive."""
    row = running(db, user)
    if touch_it:
        touch(db, row)
    return {**session_dict(row), "status": room.backend.status(row.sandbox)}


@router.get("/session/files", tags=["session"])
def files(db: Db, user: AnyUser, room: Room):
    """The workspace files of the caller's lab."""
    row = running(db, user)
    touch(db, row)
    return {"files": room.backend.list_files(row.sandbox)}


@router.get("/session/files/{path:path}", tags=["session"])
def read_file(path: str, db: Db, user: AnyUser, room: Room):
    """One workspace file."""
    rel = workspace_path(path)
    row = running(db, user)
    touch(db, row)
    return {"path": rel, "content": room.backend.read_file(row.sandbox, rel)}


@router.put("/session/files/{path:path}", tags=["session"])
def write_file(path: str, body: FileBody, db: Db, user: AnyUser, room: Room):
    """Write one workspace file (deploy puts it on the lab)."""
    rel = workspace_path(path)
    row = running(db, user)
    exam_time_left(db, row)
    touch(db, row)
    room.backend.write_file(row.sandbox, rel, body.content)
    return {"path": rel, "size": len(body.content.encode())}


@router.post("/session/deploy", tags=["session"])
def deploy(db: Db, user: AnyUser, room: Room):
    """Deploy the workspace into the running lab (like ``sdnlab lab reset``)."""
    row = running(db, user)
    exam_time_left(db, row)
    touch(db, row)
    status = room.backend.deploy(row.sandbox)
    accounts.audit(db, user, "lab.deploy", row.sandbox)
    db.commit()
    return {"status": status}


def grade(
    db: DbSession, user: User, row: LabSession, kind: str, room: Classroom, lang: str = "en"
) -> tuple[dict, dict]:
    db.commit()  # no database connection held while the lab is graded (seconds; a class checks at once)
    started = time.perf_counter()
    with room.grading():
        full = room.backend.grade(  # check as `sdnlab lab check` (replay where it applies); submit live
            row.sandbox,
            include_hidden=(kind == "submit"),
            hidden=hidden_checks(row.lab_id, kind),
            replay=(kind == "check"),
        )
    seconds = time.perf_counter() - started
    room.metrics.check.labels(kind).observe(seconds)
    now = time.time()
    db.add(
        Attempt(
            session_id=row.id,
            user_id=user.id,
            lab_id=row.lab_id,
            kind=kind,
            percent=float(full.get("percent", 0.0)),
            passed=bool(full.get("passed")),
            elapsed_s=seconds,
            created_at=now,
            report=full,
        )
    )
    row.last_percent = float(full.get("percent", 0.0))
    row.last_active_at = now
    LOG.info(
        "event=lab.%s user=%s lab=%s percent=%s seconds=%.2f",
        kind,
        user.username,
        row.lab_id,
        row.last_percent,
        seconds,
    )
    return full, public_report(full, language(lang))


@router.post("/session/check", tags=["session"])
def check(db: Db, user: AnyUser, room: Room, lang: str = "en"):
    """Grade the public checks (recorded as an attempt) as ``sdnlab lab check`` does: a lab whose
    controller is the trainee's app by replay where it applies, else on the running lab; the
    answer's ``checked_by`` says which (and why live). ``lang`` en or ja."""
    lang = language(lang)
    row = running(db, user)
    not_exam(row)
    _full, public = grade(db, user, row, "check", room, lang)
    db.commit()
    return public


@router.post("/session/submit", tags=["session"])
def submit(db: Db, user: AnyUser, room: Room, lang: str = "en"):
    """Grade every check (hidden ones too) and record the result; ``lang`` en or ja."""
    lang = language(lang)
    row = running(db, user)
    not_exam(row)
    lines = db.execute(  # before grading: a query would flush the attempt before the history is in
        select(TerminalLine.at, TerminalLine.line)
        .where(TerminalLine.session_id == row.id)
        .order_by(TerminalLine.id)
    ).all()
    full, public = grade(db, user, row, "submit", room, lang)
    full["terminal_history"] = [{"at": at, "line": line} for at, line in lines]  # kept for instructors
    now = time.time()
    db.add(
        Result(
            user_id=user.id,
            session_id=row.id,
            lab_id=row.lab_id,
            percent=float(full["percent"]),
            score=float(full["score"]),
            max_score=float(full["max_score"]),
            passed=bool(full["passed"]),
            duration_s=round(now - row.started_at, 1),
            hints_used=row.hints_used,
            grader_version=str(full.get("grader_version", ""))[:64],
            submitted_at=now,
        )
    )
    accounts.audit(db, user, "lab.submit", f"{row.lab_id} percent={full['percent']}")
    db.commit()
    return public


@router.post("/session/hint", tags=["session"])
def hint(db: Db, user: AnyUser, room: Room):
    """The next hint of the running lab (counted)."""
    row = running(db, user)
    not_exam(row)
    lab = lab_or_404(room, row.lab_id)
    if row.hints_used >= len(lab.hints):
        raise Conflict(f"no more hints: you have seen all {len(lab.hints)} hints of {lab.id}")
    row.hints_used += 1
    row.last_active_at = time.time()
    db.add(
        Hint(
            session_id=row.id,
            user_id=user.id,
            lab_id=lab.id,
            number=row.hints_used,
            created_at=time.time(),
        )
    )
    db.commit()
    text = lab.hints[row.hints_used - 1]
    return {"number": row.hints_used, "total": len(lab.hints), "text": {"en": text.en, "ja": text.ja}}


@router.post("/session/stop", tags=["session"])
def stop(db: Db, user: AnyUser, room: Room):
    """Stop the caller's lab (the sandbox is removed; results stay)."""
    row = running(db, user)
    not_exam(row)
    accounts.audit(db, user, "lab.stop", row.sandbox)
    db.commit()
    room.end_session(row.id, "stopped")
    return {"ok": True}


@router.get("/me/results", tags=["results"])
def my_results(db: Db, user: AnyUser):
    """The caller's submitted results."""
    rows = db.scalars(select(Result).where(Result.user_id == user.id).order_by(Result.submitted_at))
    return {"results": [result_dict(r, user.username) for r in rows]}
