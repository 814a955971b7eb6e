"""The lab catalogue, one lab's page, and starting a lab in a sandbox."""

import time

from fastapi import APIRouter
from sqlalchemy import func, select

from sdnlab.classroom import accounts
from sdnlab.classroom.db import RUNNING_STATES, LabSession, Result
from sdnlab.classroom.deps import AnyUser, Db, Room, lab_or_404
from sdnlab.classroom.errors import ClassFull, ClassroomError, Conflict
from sdnlab.classroom.room import LOG
from sdnlab.classroom.views import session_dict
from sdnlab.errors import SdnlabError

router = APIRouter(prefix="/api")


@router.get("/labs", tags=["labs"])
def labs(db: Db, user: AnyUser, room: Room):
    """The catalogue with the caller's best score per lab (never hidden checks or solutions)."""
    best = dict(
        db.execute(
            select(Result.lab_id, func.max(Result.percent))
            .where(Result.user_id == user.id)
            .group_by(Result.lab_id)
        ).all()
    )
    return {
        "labs": [{**lab.public_summary(), "best_percent": best.get(lab.id)} for lab in room.labs.values()]
    }


@router.get("/labs/{lab_id}", tags=["labs"])
def lab_page(lab_id: str, user: AnyUser, room: Room, lang: str = "en"):
    """One lab: its public summary and the task text as HTML (``lang`` en or ja)."""
    from markdown_it import MarkdownIt

    lab = lab_or_404(room, lab_id)
    if lang not in ("en", "ja"):
        raise ClassroomError(f"lang {lang[:8]!r}: en or ja")
    markdown = lab.task_text(lang)
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return {**lab.public_summary(), "lang": lang, "task_markdown": markdown, "task_html": html}


@router.post("/labs/{lab_id}/start", tags=["session"])
def start(lab_id: str, db: Db, user: AnyUser, room: Room):
    """Start a sandbox with the lab (one running lab per user); answers when it is ready.

    A ready sandbox of the lab from the warm pool is taken when there is one (a hit: the
    session row names it, which binds it to this trainee); otherwise the sandbox starts cold.
    """
    lab = lab_or_404(room, lab_id)
    with room.start_lock:
        other = db.scalar(
            select(LabSession).where(LabSession.user_id == user.id, LabSession.state.in_(RUNNING_STATES))
        )
        if other is not None:
            raise Conflict(f"you already run lab {other.lab_id}: stop it first")
        warm = room.pool.take(lab.id) if room.pool.targets else None
        # the pool's and validations' sandboxes count against the cap: a full host gives up a warm
        # one of another lab
        if warm is None and not room.admit(db, keep=lab.id):
            room.metrics.errors.labels("class_full").inc()
            raise ClassFull("class is full, try again in a few minutes")
        now = time.time()
        row = LabSession(
            user_id=user.id,
            lab_id=lab.id,
            sandbox=warm or "pending",
            state="starting",
            started_at=now,
            last_active_at=now,
            hints_used=0,
            detail="",
        )
        db.add(row)
        db.flush()
        if warm is None:
            row.sandbox = f"{room.settings.sandbox_prefix}{row.id}"
        accounts.audit(db, user, "lab.start", f"{lab.id} sandbox={row.sandbox}{' (warm)' if warm else ''}")
        class_name = next(iter(accounts.user_classes(db, user.id)), "")
        # the commit gives the database connection back to the pool: a start takes seconds, and
        # twenty of them each holding a connection exhausted SQLite's pool of 15 (HTTP 500)
        db.commit()
        room.begin_start()  # the pool's filler waits until this start is over (ended in ``finally``)
    started = time.perf_counter()
    try:
        status = _warm_status(room, row.sandbox) if warm else None
        if status is None:
            if warm:  # the warm sandbox went bad: start one cold under the session's own name
                row.sandbox = f"{room.settings.sandbox_prefix}{row.id}"
                db.commit()
            status = room.backend.start(
                row.sandbox,
                lab.id,
                class_name=class_name,
                trainee=user.username,
                session=str(row.id),
            )
    except BaseException as exc:
        row.state, row.ended_at, row.detail = "failed", time.time(), str(exc)[:2000]
        db.commit()
        room.metrics.errors.labels("lab_start").inc()
        raise
    finally:
        room.end_start()
    seconds = time.perf_counter() - started
    room.metrics.lab_start.observe(seconds)
    hit = bool(warm) and row.sandbox == warm
    room.metrics.pool_takes.labels("hit" if hit else "miss").inc()
    row.state, row.last_active_at = "running", time.time()
    db.commit()
    LOG.info(
        "event=lab.start user=%s lab=%s sandbox=%s warm=%s seconds=%.2f",
        user.username,
        lab.id,
        row.sandbox,
        hit,
        seconds,
    )
    return {**session_dict(row), "status": status, "ready_s": round(seconds, 2)}


def _warm_status(room, sandbox: str) -> dict | None:
    """The status of a sandbox taken from the pool when it is ready; None (and it is stopped) otherwise."""
    try:
        status = room.backend.status(sandbox)
    except (ClassroomError, SdnlabError) as exc:
        status = {"state": "unknown", "problem": str(exc)}
    if status.get("state") == "ready":
        return status
    LOG.warning("event=pool.bad sandbox=%s state=%s", sandbox, status.get("state"))
    try:
        room.backend.stop(sandbox)
    except (ClassroomError, SdnlabError) as exc:
        LOG.warning("event=sandbox.stop sandbox=%s error=%r", sandbox, str(exc))
    return None


# --- the trainee's session ---------------------------------------------------------
