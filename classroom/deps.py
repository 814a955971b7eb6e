"""Request dependencies: the database session, who is asking, and the caller's running lab.

Every endpoint names the lowest role that may call it through its parameter type
(``AnyUser``, ``Instructor``, ``Admin``); that dependency also checks the login's CSRF
token on state-changing requests. Instructors see only the trainees of their classes
(``visible_users``); admins see everyone.
"""

import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from sdnlab.classroom import security
from sdnlab.classroom.db import RUNNING_STATES, LabSession, Login, Membership, User
from sdnlab.classroom.errors import Conflict, HttpError, NotFound
from sdnlab.classroom.room import Classroom

COOKIE = "sdnlab_session"
CSRF_HEADER = "x-csrf-token"
ROLE_RANK = {"trainee": 0, "instructor": 1, "admin": 2}
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def get_room(request: Request) -> Classroom:
    return request.app.state.room


Room = Annotated[Classroom, Depends(get_room)]


def get_db(room: Room) -> Iterator[DbSession]:
    with room.factory() as db:
        yield db


Db = Annotated[DbSession, Depends(get_db)]


def login_of(request: Request, db: DbSession) -> tuple[User, Login]:
    """The caller's user and login row, from the session cookie (401 without a valid one)."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise HttpError(401, "not logged in")
    login = db.get(Login, security.token_hash(token))
    if login is None or login.expires_at < time.time():
        raise HttpError(401, "your login expired: log in again")
    user = db.get(User, login.user_id)
    if user is None or user.disabled:
        raise HttpError(401, "account disabled")
    if request.method not in SAFE_METHODS and not security.same_token(
        login.csrf_token, request.headers.get(CSRF_HEADER)
    ):
        raise HttpError(403, "missing or wrong X-CSRF-Token header (from the login answer)")
    return user, login


def role_at_least(role: str):
    """A dependency answering the caller when their role ranks at least ``role`` (403 otherwise)."""

    def check(request: Request, db: Db) -> User:
        user, _login = login_of(request, db)
        if ROLE_RANK[user.role] < ROLE_RANK[role]:
            raise HttpError(403, f"this needs the {role} role")
        return user

    return check


AnyUser = Annotated[User, Depends(role_at_least("trainee"))]
Instructor = Annotated[User, Depends(role_at_least("instructor"))]
Admin = Annotated[User, Depends(role_at_least("admin"))]


def running(db: DbSession, user: User) -> LabSession:
    """The user's running lab session (409 when none runs or it is still starting)."""
    row = db.scalar(
        select(LabSession).where(LabSession.user_id == user.id, LabSession.state.in_(RUNNING_STATES))
    )
    if row is None:
        raise Conflict("no lab running: start one from the catalogue")
    if row.state == "starting":
        raise Conflict(f"lab {row.lab_id} is still starting")
    return row


def touch(db: DbSession, row: LabSession) -> None:
    """Record activity on a session (idle sessions are reclaimed)."""
    row.last_active_at = time.time()
    db.commit()


def visible_users(db: DbSession, user: User) -> list[int] | None:
    """Ids of the trainees an instructor follows (members of their classes); None: everyone (admin)."""
    if user.role == "admin":
        return None
    classes = select(Membership.class_id).where(Membership.user_id == user.id)
    return list(db.scalars(select(Membership.user_id).where(Membership.class_id.in_(classes))))


def followed(db: DbSession, user: User, model):
    """A query over ``model`` rows of the trainees the caller follows, with their user names."""
    ids = visible_users(db, user)
    query = select(model, User.username).join(User, User.id == model.user_id)
    return query if ids is None else query.where(model.user_id.in_(ids))


def followed_session(db: DbSession, user: User, session_id: int) -> LabSession:
    """A session of a followed trainee (404 for any other, so ids reveal nothing)."""
    ids = visible_users(db, user)
    row = db.get(LabSession, session_id)
    if row is None or (ids is not None and row.user_id not in ids):
        raise NotFound(f"no session {session_id}")
    return row


def lab_or_404(room: Classroom, lab_id: str):
    """A catalogue lab by id (404 for an unknown one)."""
    lab = room.labs.get(lab_id)
    if lab is None:
        raise NotFound(f"no lab {lab_id[:64]!r}")
    return lab
