"""What the API answers about database rows: users, sessions, results, and reports as trainees see them."""

from sqlalchemy.orm import Session as DbSession

from sdnlab.classroom import accounts
from sdnlab.classroom.db import LabSession, Membership, Result, User


def public_report(full: dict) -> dict:
    """A grader report as a trainee may see it: visible checks in full, hidden ones as counts."""
    checks = full.get("checks", [])
    hidden = [c for c in checks if c.get("hidden")]
    return {
        **{k: v for k, v in full.items() if k != "checks"},
        "checks": [c for c in checks if not c.get("hidden")],
        "hidden_checks": {"total": len(hidden), "passed": sum(bool(c.get("passed")) for c in hidden)},
    }


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
