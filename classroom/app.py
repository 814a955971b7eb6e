"""The classroom web application: the JSON API under ``/api/``, the terminal WebSocket, the UI.

``create_app(settings, backend)`` builds a FastAPI app over a migrated database and a
``SandboxBackend``. Every endpoint states who may call it (``Depends(trainee)``,
``Depends(instructor)``, ``Depends(admin)``); state-changing requests also need the login's
CSRF token in ``X-CSRF-Token``. Errors are JSON ``{"error": ...}`` with a 4xx status; an
unexpected exception is logged and answered as a bare 500 without a traceback.

Trainees reach only their own session, files and results; hidden checks appear to them
only as counts. Results are written here, from the grader's report, never by the trainee.
"""

import asyncio
import csv
import io
import json
import logging
import os
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from sdnlab.classroom import accounts, metrics, security
from sdnlab.classroom.db import (
    RUNNING_STATES,
    Attempt,
    ClassGroup,
    Hint,
    LabSession,
    Login,
    Membership,
    Result,
    User,
)
from sdnlab.classroom.errors import AccountError, ClassFull, ClassroomError, Conflict, NotFound
from sdnlab.classroom.sandbox import SandboxBackend, workspace_path
from sdnlab.errors import SdnlabError

LOG = logging.getLogger("sdnlab.classroom")
COOKIE = "sdnlab_session"
CSRF_HEADER = "x-csrf-token"
STATIC = Path(__file__).parent / "static"
ROLE_RANK = {"trainee": 0, "instructor": 1, "admin": 2}


@dataclass
class Settings:
    """Server settings (from ``sdnlab serve`` options)."""

    max_sandboxes: int = 30
    idle_ttl_s: float = 2 * 3600.0
    sandbox_prefix: str = "cr"
    login_ttl_s: float = 12 * 3600.0
    cookie_secure: str = "auto"  # auto (when the request came over https) | always | never
    max_body: int = 1024 * 1024
    login_attempts: int = 5
    login_window_s: float = 60.0
    reap_every_s: float = 60.0
    extra: dict = field(default_factory=dict)


class HttpError(ClassroomError):
    """An error with an explicit HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# --- request bodies -----------------------------------------------------------------------
class LoginBody(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=security.MAX_PASSWORD)


class FileBody(BaseModel):
    content: str


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


# --- the app --------------------------------------------------------------------------------
class Classroom:
    """The server's state: database, backend, settings, the lab catalogue, metrics, limits."""

    def __init__(self, factory: sessionmaker, backend: SandboxBackend, settings: Settings):
        from sdnlab.labs.loader import catalogue

        self.factory = factory
        self.backend = backend
        self.settings = settings
        self.labs = {lab.id: lab for lab in catalogue()}
        self.metrics = metrics.Metrics(self)
        self.user_limiter = security.LoginLimiter(settings.login_attempts, settings.login_window_s)
        self.ip_limiter = security.LoginLimiter(settings.login_attempts * 6, settings.login_window_s)
        self.start_lock = threading.Lock()
        self._stop = threading.Event()

    # -- lifecycle of sandboxes --------------------------------------------------------
    def reconcile(self) -> dict:
        """After a (re)start: reattach sandboxes the database knows, stop the others, mark lost ones."""
        existing = set(self.backend.sandboxes())
        counts = {"reattached": 0, "lost": 0, "cleaned": 0}
        with self.factory.begin() as db:
            known = set()
            for row in db.scalars(select(LabSession).where(LabSession.state.in_(RUNNING_STATES))):
                if row.state == "running" and row.sandbox in existing:
                    known.add(row.sandbox)
                    counts["reattached"] += 1
                else:
                    row.state, row.ended_at = "lost", time.time()
                    row.detail = "the server restarted and the sandbox was not running"
                    counts["lost"] += 1
        for sandbox in existing - known:
            if sandbox.startswith(self.settings.sandbox_prefix):
                try:
                    self.backend.stop(sandbox)
                    counts["cleaned"] += 1
                except SdnlabError as exc:
                    LOG.warning("event=sandbox.clean sandbox=%s error=%r", sandbox, str(exc))
        LOG.info("event=reconcile %s", " ".join(f"{k}={v}" for k, v in counts.items()))
        return counts

    def reclaim_idle(self, now: float | None = None) -> list[str]:
        """Stop sandboxes idle for longer than the time-to-live; returns their names."""
        now = time.time() if now is None else now
        with self.factory() as db:
            idle = db.scalars(
                select(LabSession).where(
                    LabSession.state == "running", LabSession.last_active_at < now - self.settings.idle_ttl_s
                )
            ).all()
        reclaimed = []
        for row in idle:
            self._end(row.id, "reclaimed", "idle for longer than the time-to-live")
            reclaimed.append(row.sandbox)
        return reclaimed

    def _end(self, session_id: int, state: str, detail: str = "") -> None:
        with self.factory() as db:
            row = db.get(LabSession, session_id)
            sandbox = row.sandbox if row else None
        if sandbox:
            try:
                self.backend.stop(sandbox)
            except SdnlabError as exc:
                LOG.warning("event=sandbox.stop sandbox=%s error=%r", sandbox, str(exc))
        with self.factory.begin() as db:
            row = db.get(LabSession, session_id)
            if row and row.state in RUNNING_STATES:
                row.state, row.ended_at, row.detail = state, time.time(), detail
        LOG.info("event=session.end session=%s state=%s", session_id, state)

    def reaper(self) -> None:
        """Background loop: reclaim idle sandboxes until the server stops."""
        while not self._stop.wait(self.settings.reap_every_s):
            try:
                self.reclaim_idle()
            except Exception:  # keep reaping after a database hiccup
                LOG.exception("event=reaper.error")


def create_app(factory: sessionmaker, backend: SandboxBackend, settings: Settings | None = None) -> FastAPI:
    """The FastAPI application over a migrated database and a sandbox backend."""
    settings = settings or Settings()
    room = Classroom(factory, backend, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await asyncio.to_thread(room.reconcile)
        reaper = threading.Thread(target=room.reaper, name="classroom-reaper", daemon=True)
        reaper.start()
        yield
        room._stop.set()

    app = FastAPI(
        title="sdnlab classroom",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.room = room
    _install_errors(app, room)
    _install_body_limit(app, settings.max_body)

    # --- dependencies ----------------------------------------------------------------
    def get_db():
        with factory() as db:
            yield db

    Db = Annotated[DbSession, Depends(get_db)]

    def _login(request: Request, db: DbSession) -> tuple[User, Login]:
        token = request.cookies.get(COOKIE)
        if not token:
            raise HttpError(401, "not logged in")
        login = db.get(Login, security.token_hash(token))
        if login is None or login.expires_at < time.time():
            raise HttpError(401, "your login expired: log in again")
        user = db.get(User, login.user_id)
        if user is None or user.disabled:
            raise HttpError(401, "account disabled")
        if request.method not in ("GET", "HEAD", "OPTIONS") and not security.same_token(
            login.csrf_token, request.headers.get(CSRF_HEADER)
        ):
            raise HttpError(403, "missing or wrong X-CSRF-Token header (from the login answer)")
        return user, login

    def role_at_least(role: str):
        def check(request: Request, db: Db) -> User:
            user, _login_row = _login(request, db)
            if ROLE_RANK[user.role] < ROLE_RANK[role]:
                raise HttpError(403, f"this needs the {role} role")
            return user

        return check

    trainee = role_at_least("trainee")
    instructor = role_at_least("instructor")
    admin = role_at_least("admin")
    AnyUser = Annotated[User, Depends(trainee)]
    Instructor = Annotated[User, Depends(instructor)]
    Admin = Annotated[User, Depends(admin)]

    def running(db: DbSession, user: User) -> LabSession:
        row = db.scalar(
            select(LabSession).where(LabSession.user_id == user.id, LabSession.state.in_(RUNNING_STATES))
        )
        if row is None:
            raise Conflict("no lab running: start one from the catalogue")
        if row.state == "starting":
            raise Conflict(f"lab {row.lab_id} is still starting")
        return row

    def touch(db: DbSession, row: LabSession) -> None:
        row.last_active_at = time.time()
        db.commit()

    def visible_users(db: DbSession, user: User) -> list[int] | None:
        """Ids of the trainees an instructor follows (members of their classes); None: everyone (admin)."""
        if user.role == "admin":
            return None
        classes = select(Membership.class_id).where(Membership.user_id == user.id)
        return list(db.scalars(select(Membership.user_id).where(Membership.class_id.in_(classes))))

    # --- operations --------------------------------------------------------------------
    @app.get("/healthz", tags=["operations"])
    def healthz(db: Db):
        """Liveness: the database answers."""
        db.execute(select(1))
        return {"status": "ok", "backend": backend.kind}

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    def metrics_endpoint():
        """Prometheus metrics."""
        body, content_type = room.metrics.render()
        return Response(body, media_type=content_type)

    # --- accounts ----------------------------------------------------------------------
    @app.post("/api/login", tags=["accounts"])
    def login(body: LoginBody, request: Request, response: Response, db: Db):
        """Log in: sets the session cookie and answers the CSRF token for later requests."""
        client = request.client.host if request.client else "?"
        keys_user, keys_ip = [f"u:{body.username}"], [f"ip:{client}"]
        wait = max(room.user_limiter.retry_after(keys_user), room.ip_limiter.retry_after(keys_ip))
        if wait > 0:
            room.metrics.logins.labels("limited").inc()
            raise HttpError(429, f"too many failed logins: try again in {int(wait) + 1} s")
        user = db.scalar(select(User).where(User.username == body.username))
        if not security.verify_password(user.password_hash if user else None, body.password) or (
            user is not None and user.disabled
        ):
            room.user_limiter.failed(keys_user)
            room.ip_limiter.failed(keys_ip)
            room.metrics.logins.labels("failed").inc()
            LOG.info("event=login.failed user=%r client=%s", body.username[:64], client)
            raise HttpError(401, "wrong user name or password")
        assert user is not None
        room.user_limiter.succeeded(keys_user)
        token, csrf = security.new_token(), security.new_token()
        now = time.time()
        db.add(
            Login(
                token_hash=security.token_hash(token),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + settings.login_ttl_s,
            )
        )
        accounts.audit(db, user, "login", f"client={client}")
        db.commit()
        secure = settings.cookie_secure == "always" or (
            settings.cookie_secure == "auto"
            and (request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https")
        )
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(settings.login_ttl_s),
            httponly=True,
            samesite="strict",
            secure=secure,
            path="/",
        )
        room.metrics.logins.labels("ok").inc()
        return {"csrf_token": csrf, "user": _user_dict(db, user)}

    @app.post("/api/logout", tags=["accounts"])
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

    @app.get("/api/me", tags=["accounts"])
    def me(request: Request, db: Db, user: AnyUser):
        """Who is logged in (and the CSRF token of this login, for a reloaded page)."""
        login_row = db.get(Login, security.token_hash(request.cookies.get(COOKIE, "")))
        return {**_user_dict(db, user), "csrf_token": login_row.csrf_token if login_row else None}

    @app.get("/api/users", tags=["admin"])
    def list_users(db: Db, user: Admin):
        """Every account (admins)."""
        return {"users": [_user_dict(db, u) for u in db.scalars(select(User).order_by(User.username))]}

    @app.patch("/api/users/{username}", tags=["admin"])
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
        return {**_user_dict(db, target), "disabled": target.disabled}

    @app.post("/api/users", tags=["class"], status_code=201)
    def add_user(body: NewUserBody, db: Db, user: Instructor):
        """Create an account (instructors: trainees only; admins: any role)."""
        if user.role != "admin" and body.role != "trainee":
            raise HttpError(403, "instructors create trainee accounts only")
        new = accounts.check_new_user(body.username, body.password, body.role, body.class_name)
        created = accounts.add_user(db, new, user)
        if user.role == "instructor" and new.class_name:
            _join(db, user, new.class_name)
        db.commit()
        return _user_dict(db, created)

    @app.post("/api/users/import", tags=["class"], status_code=201)
    def import_users(db: Db, user: Instructor, text: Annotated[str, Body(media_type="text/csv")]):
        """Create accounts from CSV text (username,password[,role][,class]); all or none."""
        users = accounts.parse_csv(text, "upload")
        if user.role != "admin" and any(u.role != "trainee" for u in users):
            raise HttpError(403, "instructors import trainee accounts only")
        created = accounts.import_users(db, users, user)
        if user.role == "instructor":
            for name in {u.class_name for u in users if u.class_name}:
                _join(db, user, name)
        db.commit()
        return {"created": [u.username for u in created]}

    @app.post("/api/classes", tags=["class"], status_code=201)
    def create_class(body: ClassBody, db: Db, user: Instructor):
        """Create a class (the instructor who creates it follows it)."""
        accounts.check_class_name(body.name)
        if db.scalar(select(ClassGroup).where(ClassGroup.name == body.name)):
            raise Conflict(f"class {body.name!r} exists already")
        _join(db, user, body.name)
        accounts.audit(db, user, "class.add", body.name)
        db.commit()
        return {"name": body.name}

    # --- labs --------------------------------------------------------------------------
    @app.get("/api/labs", tags=["labs"])
    def labs(db: Db, user: AnyUser):
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

    def lab_or_404(lab_id: str):
        lab = room.labs.get(lab_id)
        if lab is None:
            raise NotFound(f"no lab {lab_id[:64]!r}")
        return lab

    @app.get("/api/labs/{lab_id}", tags=["labs"])
    def lab_page(lab_id: str, user: AnyUser, lang: str = "en"):
        """One lab: its public summary and the task text as HTML (``lang`` en or ja)."""
        from markdown_it import MarkdownIt

        lab = lab_or_404(lab_id)
        if lang not in ("en", "ja"):
            raise ClassroomError(f"lang {lang[:8]!r}: en or ja")
        markdown = lab.task_text(lang)
        html = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
        return {**lab.public_summary(), "lang": lang, "task_markdown": markdown, "task_html": html}

    @app.post("/api/labs/{lab_id}/start", tags=["session"])
    def start(lab_id: str, db: Db, user: AnyUser):
        """Start a sandbox with the lab (one running lab per user); answers when it is ready."""
        lab = lab_or_404(lab_id)
        with room.start_lock:
            other = db.scalar(
                select(LabSession).where(LabSession.user_id == user.id, LabSession.state.in_(RUNNING_STATES))
            )
            if other is not None:
                raise Conflict(f"you already run lab {other.lab_id}: stop it first")
            active = db.scalar(
                select(func.count()).select_from(LabSession).where(LabSession.state.in_(RUNNING_STATES))
            )
            if (active or 0) >= settings.max_sandboxes:
                room.metrics.errors.labels("class_full").inc()
                raise ClassFull("class is full, try again in a few minutes")
            now = time.time()
            row = LabSession(
                user_id=user.id,
                lab_id=lab.id,
                sandbox="pending",
                state="starting",
                started_at=now,
                last_active_at=now,
                hints_used=0,
                detail="",
            )
            db.add(row)
            db.flush()
            row.sandbox = f"{settings.sandbox_prefix}{row.id}"
            accounts.audit(db, user, "lab.start", f"{lab.id} sandbox={row.sandbox}")
            db.commit()
        started = time.perf_counter()
        try:
            status = backend.start(
                row.sandbox,
                lab.id,
                class_name=next(iter(accounts.user_classes(db, user.id)), ""),
                trainee=user.username,
                session=str(row.id),
            )
        except BaseException as exc:
            row.state, row.ended_at, row.detail = "failed", time.time(), str(exc)[:2000]
            db.commit()
            room.metrics.errors.labels("lab_start").inc()
            raise
        seconds = time.perf_counter() - started
        room.metrics.lab_start.observe(seconds)
        row.state, row.last_active_at = "running", time.time()
        db.commit()
        LOG.info(
            "event=lab.start user=%s lab=%s sandbox=%s seconds=%.2f",
            user.username,
            lab.id,
            row.sandbox,
            seconds,
        )
        return {**_session_dict(row), "status": status, "ready_s": round(seconds, 2)}

    # --- the trainee's session ---------------------------------------------------------
    @app.get("/api/session", tags=["session"])
    def session_info(db: Db, user: AnyUser):
        """The caller's running lab: state and topology with addresses."""
        row = running(db, user)
        touch(db, row)
        return {**_session_dict(row), "status": backend.status(row.sandbox)}

    @app.get("/api/session/files", tags=["session"])
    def files(db: Db, user: AnyUser):
        """The workspace files of the caller's lab."""
        row = running(db, user)
        touch(db, row)
        return {"files": backend.list_files(row.sandbox)}

    @app.get("/api/session/files/{path:path}", tags=["session"])
    def read_file(path: str, db: Db, user: AnyUser):
        """One workspace file."""
        rel = workspace_path(path)
        row = running(db, user)
        touch(db, row)
        return {"path": rel, "content": backend.read_file(row.sandbox, rel)}

    @app.put("/api/session/files/{path:path}", tags=["session"])
    def write_file(path: str, body: FileBody, db: Db, user: AnyUser):
        """Write one workspace file (deploy puts it on the lab)."""
        rel = workspace_path(path)
        row = running(db, user)
        touch(db, row)
        backend.write_file(row.sandbox, rel, body.content)
        return {"path": rel, "size": len(body.content.encode())}

    @app.post("/api/session/deploy", tags=["session"])
    def deploy(db: Db, user: AnyUser):
        """Deploy the workspace into the running lab (like ``sdnlab lab reset``)."""
        row = running(db, user)
        touch(db, row)
        status = backend.deploy(row.sandbox)
        accounts.audit(db, user, "lab.deploy", row.sandbox)
        db.commit()
        return {"status": status}

    def grade(db: DbSession, user: User, row: LabSession, kind: str, lang: str = "en") -> tuple[dict, dict]:
        started = time.perf_counter()
        full = backend.grade(
            row.sandbox, include_hidden=(kind == "submit"), hidden=hidden_checks(row.lab_id, kind)
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
        return full, public_report(full, _language(lang))

    @app.post("/api/session/check", tags=["session"])
    def check(db: Db, user: AnyUser, lang: str = "en"):
        """Grade the public checks on the running lab (recorded as an attempt); ``lang`` en or ja."""
        row = running(db, user)
        _full, public = grade(db, user, row, "check", lang)
        db.commit()
        return public

    @app.post("/api/session/submit", tags=["session"])
    def submit(db: Db, user: AnyUser, lang: str = "en"):
        """Grade every check (hidden ones too) and record the result; ``lang`` en or ja."""
        row = running(db, user)
        full, public = grade(db, user, row, "submit", lang)
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

    @app.post("/api/session/hint", tags=["session"])
    def hint(db: Db, user: AnyUser):
        """The next hint of the running lab (counted)."""
        row = running(db, user)
        lab = lab_or_404(row.lab_id)
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

    @app.post("/api/session/stop", tags=["session"])
    def stop(db: Db, user: AnyUser):
        """Stop the caller's lab (the sandbox is removed; results stay)."""
        row = running(db, user)
        accounts.audit(db, user, "lab.stop", row.sandbox)
        db.commit()
        room._end(row.id, "stopped")
        return {"ok": True}

    @app.websocket("/api/session/terminal")
    async def terminal(ws: WebSocket):
        """A shell in the caller's sandbox: binary output frames; input as JSON {type: input|resize}."""
        await _terminal(ws, room)

    @app.get("/api/me/results", tags=["results"])
    def my_results(db: Db, user: AnyUser):
        """The caller's submitted results."""
        rows = db.scalars(select(Result).where(Result.user_id == user.id).order_by(Result.submitted_at))
        return {"results": [_result_dict(r, user.username) for r in rows]}

    # --- instructors -------------------------------------------------------------------
    def followed(db: DbSession, user: User, model):
        ids = visible_users(db, user)
        query = select(model, User.username).join(User, User.id == model.user_id)
        return query if ids is None else query.where(model.user_id.in_(ids))

    @app.get("/api/class/results", tags=["class"])
    def class_results(db: Db, user: Instructor, format: str = "json"):
        """Results of the trainees the caller follows (``format=csv`` for a spreadsheet)."""
        rows = [
            _result_dict(r, name) for r, name in db.execute(followed(db, user, Result).order_by(Result.id))
        ]
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

    @app.get("/api/class/sessions", tags=["class"])
    def class_sessions(db: Db, user: Instructor):
        """Who runs which lab: state, last check score, hints used, time spent."""
        now = time.time()
        query = followed(db, user, LabSession).order_by(LabSession.id.desc()).limit(500)
        rows = []
        for row, name in db.execute(query):
            rows.append(
                {
                    **_session_dict(row),
                    "user": name,
                    "minutes": round(((row.ended_at or now) - row.started_at) / 60.0, 1),
                    "idle_s": round(now - row.last_active_at),
                }
            )
        return {"sessions": rows, "now": now}

    def followed_session(db: DbSession, user: User, session_id: int) -> LabSession:
        ids = visible_users(db, user)
        row = db.get(LabSession, session_id)
        if row is None or (ids is not None and row.user_id not in ids):
            raise NotFound(f"no session {session_id}")
        return row

    @app.get("/api/class/sessions/{session_id}", tags=["class"])
    def trainee_session(session_id: int, db: Db, user: Instructor):
        """Drill-down on a followed trainee's session: state, files, attempts, the last full report."""
        row = followed_session(db, user, session_id)
        owner = db.get(User, row.user_id)
        name = owner.username if owner else "?"
        attempts = db.scalars(select(Attempt).where(Attempt.session_id == row.id).order_by(Attempt.id)).all()
        files = backend.list_files(row.sandbox) if row.state == "running" else []
        return {
            **_session_dict(row),
            "user": name,
            "files": files,
            "attempts": [
                {"kind": a.kind, "percent": a.percent, "passed": a.passed, "at": a.created_at}
                for a in attempts
            ],
            "last_report": attempts[-1].report if attempts else None,
        }

    @app.get("/api/class/sessions/{session_id}/files/{path:path}", tags=["class"])
    def trainee_file(session_id: int, path: str, db: Db, user: Instructor):
        """A file of a followed trainee's running lab."""
        rel = workspace_path(path)
        row = followed_session(db, user, session_id)
        if row.state != "running":
            raise Conflict(f"session {session_id} is not running")
        return {"path": rel, "content": backend.read_file(row.sandbox, rel)}

    @app.post("/api/class/sessions/{session_id}/reset", tags=["class"])
    def reset_trainee(session_id: int, db: Db, user: Instructor):
        """Restore a followed trainee's starter files and deploy them (their lab keeps running)."""
        row = followed_session(db, user, session_id)
        if row.state != "running":
            raise Conflict(f"session {session_id} is not running")
        accounts.audit(db, user, "lab.reset.instructor", f"session={session_id}")
        db.commit()
        return {"status": backend.reset(row.sandbox)}

    @app.post("/api/class/sessions/{session_id}/stop", tags=["class"])
    def stop_trainee(session_id: int, db: Db, user: Instructor):
        """Stop a followed trainee's lab."""
        row = followed_session(db, user, session_id)
        if row.state not in RUNNING_STATES:
            raise Conflict(f"session {session_id} is not running")
        accounts.audit(db, user, "lab.stop.instructor", f"session={session_id}")
        db.commit()
        room._end(row.id, "stopped", f"stopped by {user.username}")
        return {"ok": True}

    # --- the browser UI -------------------------------------------------------------------
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

        @app.get("/", include_in_schema=False)
        def index():
            return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    return app


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


def _language(lang: str) -> str:
    if lang not in ("en", "ja"):
        raise ClassroomError(f"lang {lang[:8]!r}: en or ja")
    return lang


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


def _join(db: DbSession, user: User, class_name: str) -> None:
    group = accounts.class_named(db, class_name)
    if db.get(Membership, (user.id, group.id)) is None:
        db.add(Membership(user_id=user.id, class_id=group.id))
        db.flush()


def _user_dict(db: DbSession, user: User) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "classes": accounts.user_classes(db, user.id),
    }


def _session_dict(row: LabSession) -> dict:
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
    }


def _result_dict(row: Result, username: str) -> dict:
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


# --- errors and limits -----------------------------------------------------------------------
def _install_errors(app: FastAPI, room: Classroom) -> None:
    def answer(status: int, message: str, **extra: Any) -> JSONResponse:
        if status >= 400:
            room.metrics.errors.labels(str(status)).inc()
        return JSONResponse({"error": message, **extra}, status_code=status)

    @app.exception_handler(ClassroomError)
    async def classroom_error(_request: Request, exc: ClassroomError):
        return answer(exc.status, str(exc))

    @app.exception_handler(AccountError)
    async def account_error(_request: Request, exc: AccountError):
        return answer(400, str(exc))

    @app.exception_handler(SdnlabError)
    async def sdnlab_error(_request: Request, exc: SdnlabError):
        return answer(400, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        return answer(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError):
        problems = []
        status = 422
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            if err.get("type") == "json_invalid":
                status = 400
                problems.append("body: malformed JSON")
            else:
                problems.append(f"{where}: {err.get('msg')}")
        return answer(status, "; ".join(problems) or "invalid request", fields=problems)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception):
        LOG.exception("event=internal_error path=%s", request.url.path)
        return answer(500, "internal error (logged on the server)")


def _install_body_limit(app: FastAPI, limit: int) -> None:
    """Refuse request bodies larger than ``limit`` bytes with a JSON 413 (declared or streamed)."""

    class BodyLimit:
        def __init__(self, inner):
            self.inner = inner

        async def __call__(self, scope, receive, send):
            if scope["type"] != "http":
                return await self.inner(scope, receive, send)
            headers = dict(scope.get("headers") or [])
            declared = headers.get(b"content-length")
            too_big = JSONResponse({"error": f"request body larger than {limit} bytes"}, status_code=413)
            if declared is not None:
                try:
                    if int(declared) > limit:
                        return await too_big(scope, receive, send)
                except ValueError:
                    return await JSONResponse({"error": "bad Content-Length"}, status_code=400)(
                        scope, receive, send
                    )
            chunks, size = [], 0
            if scope.get("method") in ("POST", "PUT", "PATCH"):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        break
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        return await too_big(scope, receive, send)
                    chunks.append(chunk)
                    if not message.get("more_body"):
                        break
            body = b"".join(chunks)
            sent = False

            async def replay():
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            return await self.inner(scope, replay, send)

    app.add_middleware(BodyLimit)


# --- the terminal ------------------------------------------------------------------------------
async def _terminal(ws: WebSocket, room: Classroom) -> None:
    import fcntl
    import struct
    import termios

    origin = ws.headers.get("origin")
    host = ws.headers.get("host", "")
    if origin and origin.split("://", 1)[-1] != host:
        await ws.close(code=4403, reason="cross-origin terminal refused")
        return
    token = ws.cookies.get(COOKIE)
    with room.factory() as db:
        login = db.get(Login, security.token_hash(token)) if token else None
        user = db.get(User, login.user_id) if login and login.expires_at >= time.time() else None
        row = (
            db.scalar(select(LabSession).where(LabSession.user_id == user.id, LabSession.state == "running"))
            if user
            else None
        )
    if user is None:
        await ws.close(code=4401, reason="not logged in")
        return
    if row is None:
        await ws.close(code=4409, reason="no lab running")
        return
    try:
        fd = await asyncio.to_thread(room.backend.terminal, row.sandbox)
    except SdnlabError as exc:
        await ws.close(code=4500, reason=str(exc)[:120])
        return
    await ws.accept()
    loop = asyncio.get_running_loop()
    output: asyncio.Queue[bytes] = asyncio.Queue()
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        output.put_nowait(data)
        if not data:
            loop.remove_reader(fd)

    loop.add_reader(fd, readable)
    room.metrics.terminals.inc()
    last_touch = 0.0

    async def pump_out() -> None:
        while True:
            data = await output.get()
            if not data:
                await ws.close()
                return
            await ws.send_bytes(data)

    sender = asyncio.create_task(pump_out())
    try:
        while True:
            message = await ws.receive_text()
            try:
                event = json.loads(message)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            if event.get("type") == "input" and isinstance(event.get("data"), str):
                os.write(fd, event["data"].encode()[:65536])
            elif event.get("type") == "resize":
                cols, rows = event.get("cols"), event.get("rows")
                if isinstance(cols, int) and isinstance(rows, int) and 0 < cols < 1000 and 0 < rows < 1000:
                    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            if time.time() - last_touch > 30:
                last_touch = time.time()
                await asyncio.to_thread(_touch_session, room, row.id, last_touch)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        sender.cancel()
        try:
            loop.remove_reader(fd)
        except (ValueError, OSError):
            pass
        os.close(fd)
        room.metrics.terminals.dec()


def _touch_session(room: Classroom, session_id: int, now: float) -> None:
    with room.factory.begin() as db:
        row = db.get(LabSession, session_id)
        if row is not None:
            row.last_active_at = now
