"""Accounts: log in and out, who am I, users (admins), trainees and classes (instructors)."""

import time
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from sdnlab.classroom import accounts, security
from sdnlab.classroom.db import ClassGroup, Login, User
from sdnlab.classroom.deps import COOKIE, ROLE_RANK, Admin, AnyUser, Db, Instructor, Room
from sdnlab.classroom.errors import ClassroomError, Conflict, HttpError, NotFound
from sdnlab.classroom.room import LOG
from sdnlab.classroom.views import join_class, user_dict

router = APIRouter(prefix="/api")


class LoginBody(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=security.MAX_PASSWORD)


class NewUserBody(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=security.MAX_PASSWORD)
    role: str = "trainee"
    class_name: str | None = Field(default=None, alias="class", max_length=64)


class UserChange(BaseModel):
    role: str | None = None
    disabled: bool | None = None


class ClassBody(BaseModel):
    name: str = Field(max_length=64)


@router.post("/login", tags=["accounts"])
def login(body: LoginBody, request: Request, response: Response, db: Db, room: Room):
    """Log in: sets the session cookie and answers the CSRF token for later requests."""
    client = request.client.host if request.client else "?"
    keys_user, keys_ip = [f"u:{body.username}"], [f"ip:{client}"]
    wait = max(room.user_limiter.retry_after(db, keys_user), room.ip_limiter.retry_after(db, keys_ip))
    if wait > 0:
        room.metrics.logins.labels("limited").inc()
        raise HttpError(429, f"too many failed logins: try again in {int(wait) + 1} s")
    user = db.scalar(select(User).where(User.username == body.username))
    if not security.verify_password(user.password_hash if user else None, body.password) or (
        user is not None and user.disabled
    ):
        room.user_limiter.failed(db, keys_user)
        room.ip_limiter.failed(db, keys_ip)
        db.commit()
        room.metrics.logins.labels("failed").inc()
        LOG.info("event=login.failed user=%r client=%s", body.username[:64], client)
        raise HttpError(401, "wrong user name or password")
    assert user is not None
    room.user_limiter.succeeded(db, keys_user)
    token, csrf = security.new_token(), security.new_token()
    now = time.time()
    db.add(
        Login(
            token_hash=security.token_hash(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + room.settings.login_ttl_s,
        )
    )
    accounts.audit(db, user, "login", f"client={client}")
    db.commit()
    secure = room.settings.cookie_secure == "always" or (
        room.settings.cookie_secure == "auto"
        and (request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https")
    )
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(room.settings.login_ttl_s),
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    room.metrics.logins.labels("ok").inc()
    return {"csrf_token": csrf, "user": user_dict(db, user)}


@router.post("/logout", tags=["accounts"])
def logout(request: Request, response: Response, db: Db, user: AnyUser):
    """Log out (the login token is forgotten by the server)."""
    token = request.cookies.get(COOKIE, "")
    row = db.get(Login, security.token_hash(token))
    if row:
        db.delete(row)
    accounts.audit(db, user, "logout")
    db.commit()
    response.delete_cookie(COOKIE, path="/")
    return {"ok": True}


@router.get("/me", tags=["accounts"])
def me(request: Request, db: Db, user: AnyUser):
    """Who is logged in (and the CSRF token of this login, for a reloaded page)."""
    login_row = db.get(Login, security.token_hash(request.cookies.get(COOKIE, "")))
    return {**user_dict(db, user), "csrf_token": login_row.csrf_token if login_row else None}


@router.get("/users", tags=["admin"])
def list_users(db: Db, user: Admin):
    """Every account with its role and whether it is disabled (admins)."""
    rows = db.scalars(select(User).order_by(User.username))
    return {"users": [{**user_dict(db, u), "disabled": u.disabled} for u in rows]}


@router.patch("/users/{username}", tags=["admin"])
def change_user(username: str, body: UserChange, db: Db, user: Admin):
    """Change an account's role or disable it (admins; a disabled user's logins stop working)."""
    target = db.scalar(select(User).where(User.username == username))
    if target is None:
        raise NotFound(f"no user {username[:64]!r}")
    if target.id == user.id:
        raise Conflict("admins do not change their own account here")
    if body.role is not None:
        if body.role not in ROLE_RANK:
            raise ClassroomError(f"role {body.role[:16]!r}: expected one of {', '.join(ROLE_RANK)}")
        target.role = body.role
    if body.disabled is not None:
        target.disabled = body.disabled
    accounts.audit(db, user, "user.change", f"{username} role={target.role} disabled={target.disabled}")
    db.commit()
    return {**user_dict(db, target), "disabled": target.disabled}


@router.post("/users", tags=["class"], status_code=201)
def add_user(body: NewUserBody, db: Db, user: Instructor):
    """Create an account (instructors: trainees only; admins: any role)."""
    if user.role != "admin" and body.role != "trainee":
        raise HttpError(403, "instructors create trainee accounts only")
    new = accounts.check_new_user(body.username, body.password, body.role, body.class_name)
    created = accounts.add_user(db, new, user)
    if user.role == "instructor" and new.class_name:
        join_class(db, user, new.class_name)
    db.commit()
    return user_dict(db, created)


@router.post("/users/import", tags=["class"], status_code=201)
def import_users(db: Db, user: Instructor, text: Annotated[str, Body(media_type="text/csv")]):
    """Create accounts from CSV text (username,password[,role][,class]); all or none."""
    users = accounts.parse_csv(text, "upload")
    if user.role != "admin" and any(u.role != "trainee" for u in users):
        raise HttpError(403, "instructors import trainee accounts only")
    created = accounts.import_users(db, users, user)
    if user.role == "instructor":
        for name in {u.class_name for u in users if u.class_name}:
            join_class(db, user, name)
    db.commit()
    return {"created": [u.username for u in created]}


@router.post("/classes", tags=["class"], status_code=201)
def create_class(body: ClassBody, db: Db, user: Instructor):
    """Create a class (the instructor who creates it follows it)."""
    accounts.check_class_name(body.name)
    if db.scalar(select(ClassGroup).where(ClassGroup.name == body.name)):
        raise Conflict(f"class {body.name!r} exists already")
    join_class(db, user, body.name)
    accounts.audit(db, user, "class.add", body.name)
    db.commit()
    return {"name": body.name}
