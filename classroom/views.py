"""What the API answers about database rows: users, sessions, results, and reports as trainees see them."""

from sqlalchemy.orm import Session as DbSession

from sdnlab.classroom import accounts
from sdnlab.classroom.db import LabSession, Membership, Result, User
from sdnlab.classroom.errors import ClassroomError


def public_report(full: dict, lang: str = "en") -> dict:
    """A grader report as a trainee may see it: visible checks in full (their descriptions in
    ``lang``), hidden ones as counts."""
    checks = full.get("checks", [])
    hidden = [c for c in checks if c.get("hidden")]
    shown = [
        {**c, "description": c.get("description_ja") or c.get("description")} if lang == "ja" else c
        for c in checks
        if not c.get("hidden")
    ]
    return {
        **{k: v for k, v in full.items() if k != "checks"},
        "checks": shown,
        "hidden_checks": {"total": len(hidden), "passed": sum(bool(c.get("passed")) for c in hidden)},
    }


def hidden_checks(lab_id: str, kind: str) -> str | None:
    """What the server sends a sandbox with a grade call: the text of the lab's hidden.yaml for a
    submit where this server has the instructor data (sdnlab.instructor), else None."""
    from sdnlab import instructor
    from sdnlab.labs.loader import labs_root

    if kind != "submit":
        return None
    part = instructor.lab_part(labs_root() / lab_id)
    path = part / instructor.HIDDEN if part is not None else None
    return path.read_text(encoding="utf-8") if path is not None and path.is_file() else None


def language(lang: str) -> str:
    """``lang`` when it is one the UI speaks (en, ja); a 400 otherwise."""
    if lang not in ("en", "ja"):
        raise ClassroomError(f"lang {lang[:8]!r}: en or ja")
    return lang


def join_class(db: DbSession, user: User, class_name: str) -> None:
    """Make ``user`` a member of the class (created when new)."""
    group = accounts.class_named(db, class_name)
    if db.get(Membership, (user.id, group.id)) is None:
        db.add(Membership(user_id=user.id, class_id=group.id))
        db.flush()


def user_dict(db: DbSession, user: User) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "classes": accounts.user_classes(db, user.id),
    }


def session_dict(row: LabSession) -> dict:
    return {
        "id": row.id,
        "lab": row.lab_id,
        "sandbox": row.sandbox,
        "state": row.state,
        "started_at": row.started_at,
        "last_active_at": row.last_active_at,
        "ended_at": row.ended_at,
        "hints_used": row.hints_used,
        "last_percent": row.last_percent,
        "exam_attempt": row.exam_attempt_id,
    }


def result_dict(row: Result, username: str) -> dict:
    return {
        "user": username,
        "lab": row.lab_id,
        "percent": row.percent,
        "score": row.score,
        "max_score": row.max_score,
        "passed": row.passed,
        "duration_s": row.duration_s,
        "hints_used": row.hints_used,
        "grader_version": row.grader_version,
        "submitted_at": row.submitted_at,
    }
