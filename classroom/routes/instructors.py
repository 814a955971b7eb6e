"""For instructors: class results (JSON or CSV), live sessions, a drill-down per trainee, reset and stop.

Instructors see only the trainees of their classes; admins see everyone. Another trainee's
session id answers 404, as an unknown one does.
"""

import csv
import io
import time

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import select

from sdnlab.classroom import accounts
from sdnlab.classroom.db import RUNNING_STATES, Attempt, LabSession, Result, User
from sdnlab.classroom.deps import Db, Instructor, Room, followed, followed_session
from sdnlab.classroom.errors import ClassroomError, Conflict
from sdnlab.classroom.sandbox import workspace_path
from sdnlab.classroom.views import result_dict, session_dict

router = APIRouter(prefix="/api")


@router.get("/class/results", tags=["class"])
def class_results(db: Db, user: Instructor, format: str = "json"):
    """Results of the trainees the caller follows (``format=csv`` for a spreadsheet)."""
    rows = [result_dict(r, name) for r, name in db.execute(followed(db, user, Result).order_by(Result.id))]
    if format == "csv":
        out = io.StringIO()
        fields = [
            "user",
            "lab",
            "percent",
            "score",
            "max_score",
            "passed",
            "duration_s",
            "hints_used",
            "submitted_at",
        ]
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return PlainTextResponse(out.getvalue(), media_type="text/csv")
    if format != "json":
        raise ClassroomError(f"format {format[:8]!r}: json or csv")
    return {"results": rows}


@router.get("/class/sessions", tags=["class"])
def class_sessions(db: Db, user: Instructor):
    """Who runs which lab: state, last check score, hints used, time spent."""
    now = time.time()
    query = followed(db, user, LabSession).order_by(LabSession.id.desc()).limit(500)
    rows = []
    for row, name in db.execute(query):
        rows.append(
            {
                **session_dict(row),
                "user": name,
                "minutes": round(((row.ended_at or now) - row.started_at) / 60.0, 1),
                "idle_s": round(now - row.last_active_at),
            }
        )
    return {"sessions": rows, "now": now}


@router.get("/class/sessions/{session_id}", tags=["class"])
def trainee_session(session_id: int, db: Db, user: Instructor, room: Room):
    """Drill-down on a followed trainee's session: state, files, attempts, the last full report."""
    row = followed_session(db, user, session_id)
    owner = db.get(User, row.user_id)
    name = owner.username if owner else "?"
    attempts = db.scalars(select(Attempt).where(Attempt.session_id == row.id).order_by(Attempt.id)).all()
    files = room.backend.list_files(row.sandbox) if row.state == "running" else []
    return {
        **session_dict(row),
        "user": name,
        "files": files,
        "attempts": [
            {"kind": a.kind, "percent": a.percent, "passed": a.passed, "at": a.created_at} for a in attempts
        ],
        "last_report": attempts[-1].report if attempts else None,
    }


@router.get("/class/sessions/{session_id}/topology", tags=["class"])
def trainee_topology(session_id: int, db: Db, user: Instructor, room: Room):
    """A followed trainee's lab drawn as on their page: the topology (live while the lab runs, as
    declared by the lab afterwards) and the checks of their last check or submit with the
    counterexample paths to draw, or why a check has none (hidden checks too: instructors see them)."""
    from sdnlab.classroom.runner import declared_topology

    row = followed_session(db, user, session_id)
    last = db.scalars(
        select(Attempt).where(Attempt.session_id == row.id).order_by(Attempt.id.desc()).limit(1)
    ).first()
    topology, note = None, ""
    if row.state == "running":
        topology = room.backend.status(row.sandbox).get("topology")
    elif row.exam_attempt_id is None and row.lab_id in room.labs:
        topology = declared_topology(room.labs[row.lab_id])
        note = "the lab has stopped: its declared topology"
    else:
        note = "an exam task's topology (the trainee's variant) is shown while the task runs"
    checks = []
    if last is not None:
        checks = [
            {
                k: c.get(k)
                for k in (
                    "id",
                    "description",
                    "passed",
                    "hidden",
                    "passed_cases",
                    "cases",
                    "paths",
                    "no_path",
                )
            }
            for c in (last.report or {}).get("checks", [])
            if isinstance(c, dict)
        ]
    return {
        "session": row.id,
        "lab": row.lab_id,
        "state": row.state,
        "topology": topology,
        "note": note,
        "attempt": {"kind": last.kind, "percent": last.percent, "at": last.created_at} if last else None,
        "checks": checks,
    }


@router.get("/class/sessions/{session_id}/files/{path:path}", tags=["class"])
def trainee_file(session_id: int, path: str, db: Db, user: Instructor, room: Room):
    """A file of a followed trainee's running lab."""
    rel = workspace_path(path)
    row = followed_session(db, user, session_id)
    if row.state != "running":
        raise Conflict(f"session {session_id} is not running")
    return {"path": rel, "content": room.backend.read_file(row.sandbox, rel)}


@router.post("/class/sessions/{session_id}/reset", tags=["class"])
def reset_trainee(session_id: int, db: Db, user: Instructor, room: Room):
    """Restore a followed trainee's starter files and deploy them (their lab keeps running)."""
    row = followed_session(db, user, session_id)
    if row.state != "running":
        raise Conflict(f"session {session_id} is not running")
    accounts.audit(db, user, "lab.reset.instructor", f"session={session_id}")
    db.commit()
    return {"status": room.backend.reset(row.sandbox)}


@router.post("/class/sessions/{session_id}/stop", tags=["class"])
def stop_trainee(session_id: int, db: Db, user: Instructor, room: Room):
    """Stop a followed trainee's lab."""
    row = followed_session(db, user, session_id)
    if row.state not in RUNNING_STATES:
        raise Conflict(f"session {session_id} is not running")
    accounts.audit(db, user, "lab.stop.instructor", f"session={session_id}")
    db.commit()
    room.end_session(row.id, "stopped", f"stopped by {user.username}")
    return {"ok": True}
