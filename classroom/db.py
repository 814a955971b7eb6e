"""The classroom database: SQLAlchemy 2 models, the engine, and Alembic migrations applied at start.

Tables: ``users`` (argon2 hashes, role), ``classes`` and ``memberships``, ``logins`` (browser
sessions: a hashed cookie token and its CSRF token), ``sessions`` (one lab session per trainee:
the sandbox that runs it, its state and activity), ``attempts`` (every check and submit with
the full grader report), ``results`` (submitted scores, written by the server only), ``hints``,
``audit_log`` (who did what, when), ``scheduled_exams`` (an exam scheduled for a class),
``exam_attempts`` (a trainee's attempt, its evidence bundle and certificate),
``terminal_lines`` (the command lines typed in each session's terminal),
``login_failures`` (the login rate limiter's counts, shared by every server replica) and
``lab_validations`` (instructors' runs of ``lab validate``: progress and report). Times are
UNIX seconds (floats), the same on SQLite and PostgreSQL.

SQLite (one file under the server's state folder) is the default; any SQLAlchemy URL works,
``postgresql://`` is mapped onto the psycopg 3 driver.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

ROLES = ("trainee", "instructor", "admin")
RUNNING_STATES = ("starting", "running")


class Base(DeclarativeBase):
    """Declarative base of the classroom tables."""


class User(Base):
    """An account: trainee, instructor or admin."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(256), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=time.time)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class ClassGroup(Base):
    """A class (a group of trainees followed by instructors)."""

    __tablename__ = "classes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False, default=time.time)


class Membership(Base):
    """A user in a class."""

    __tablename__ = "memberships"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True)


class Login(Base):
    """A browser login: the SHA-256 of the cookie token, its CSRF token and expiry."""

    __tablename__ = "logins"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    expires_at: Mapped[float] = mapped_column(Float, nullable=False)


class LabSession(Base):
    """A trainee's lab session and the sandbox that runs it."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    lab_id: Mapped[str] = mapped_column(String(64), nullable=False)
    sandbox: Mapped[str] = mapped_column(String(32), nullable=False)
    state: Mapped[str] = mapped_column(
        String(16), nullable=False
    )  # starting running stopped failed reclaimed lost
    started_at: Mapped[float] = mapped_column(Float, nullable=False)
    last_active_at: Mapped[float] = mapped_column(Float, nullable=False)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    hints_used: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    exam_attempt_id: Mapped[int | None] = mapped_column(
        Integer, nullable=True
    )  # the exam attempt (exam_attempts.id) whose task this session runs


class Attempt(Base):
    """One check or submit: the full grader report (hidden checks included) kept server-side."""

    __tablename__ = "attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    lab_id: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)  # check | submit
    percent: Mapped[float] = mapped_column(Float, nullable=False)
    passed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    elapsed_s: Mapped[float] = mapped_column(Float, nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    report: Mapped[dict] = mapped_column(JSON, nullable=False)


class Result(Base):
    """A submitted score (the server writes it; trainees never do)."""

    __tablename__ = "results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    lab_id: Mapped[str] = mapped_column(String(64), nullable=False)
    percent: Mapped[float] = mapped_column(Float, nullable=False)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    max_score: Mapped[float] = mapped_column(Float, nullable=False)
    passed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    duration_s: Mapped[float] = mapped_column(Float, nullable=False)
    hints_used: Mapped[int] = mapped_column(Integer, nullable=False)
    grader_version: Mapped[str] = mapped_column(String(64), nullable=False)
    submitted_at: Mapped[float] = mapped_column(Float, nullable=False)


class Hint(Base):
    """A hint shown to a trainee."""

    __tablename__ = "hints"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    lab_id: Mapped[str] = mapped_column(String(64), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    __table_args__ = (UniqueConstraint("session_id", "number"),)


class AuditEntry(Base):
    """Who did what, when (never passwords or tokens)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Float, nullable=False)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(64), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")


class ScheduledExam(Base):
    """An exam from the catalogue scheduled for a class: its window, duration and policy."""

    __tablename__ = "scheduled_exams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exam_id: Mapped[str] = mapped_column(String(64), nullable=False)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), nullable=False)
    opens_at: Mapped[float] = mapped_column(Float, nullable=False)
    closes_at: Mapped[float] = mapped_column(Float, nullable=False)
    minutes: Mapped[float] = mapped_column(Float, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    hints_allowed: Mapped[bool] = mapped_column(Boolean, nullable=False)
    hint_cost: Mapped[float] = mapped_column(Float, nullable=False)
    pass_percent: Mapped[float] = mapped_column(Float, nullable=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    cancelled_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ExamAttempt(Base):
    """A trainee's attempt at a scheduled exam: seed, deadline, per-task state, result, evidence, certificate.

    ``tasks`` holds, per task, the hints used, the workspace files saved when the trainee left it
    and its last full grading (hidden checks included: never sent to the trainee).
    """

    __tablename__ = "exam_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheduled_id: Mapped[int] = mapped_column(
        ForeignKey("scheduled_exams.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    seed: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)  # running | submitted
    started_at: Mapped[float] = mapped_column(Float, nullable=False)
    deadline: Mapped[float] = mapped_column(Float, nullable=False)
    current_task: Mapped[int] = mapped_column(Integer, nullable=False)  # 1-based
    tasks: Mapped[list] = mapped_column(JSON, nullable=False)
    reference_run: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    submitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    auto_submitted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    evidence: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    certificate: Mapped[str | None] = mapped_column(Text, nullable=True)
    credential_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    __table_args__ = (
        UniqueConstraint("scheduled_id", "user_id", "number"),
        Index("ix_exam_attempts_status", "status", "deadline"),
    )


class TerminalLine(Base):
    """One command line a trainee typed in their terminal (reconstructed from the input events)."""

    __tablename__ = "terminal_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    at: Mapped[float] = mapped_column(Float, nullable=False)
    line: Mapped[str] = mapped_column(Text, nullable=False)
    __table_args__ = (Index("ix_terminal_lines_session", "session_id", "id"),)


class LoginFailure(Base):
    """One failed login, counted against a key (``u:<name>`` or ``ip:<address>``) by the rate limiter.

    In the database, not in a server's memory, so that every replica behind one load balancer
    shares the count. Rows older than the limiter's window are deleted as new ones arrive.
    """

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), nullable=False)
    at: Mapped[float] = mapped_column(Float, nullable=False)
    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)


class LabValidation(Base):
    """An instructor's validation of a catalogue lab (``sdnlab lab validate`` run by the server).

    In the database, not in a server's memory: every replica sees the job, its sandbox counts
    against the cap on every replica, and the report outlives a restart. A running job's server
    writes ``heartbeat_at`` every few seconds; a job without one for a while is failed
    (``classroom/validation.py``)."""

    __tablename__ = "lab_validations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lab_id: Mapped[str] = mapped_column(String(64), nullable=False)
    mode: Mapped[str] = mapped_column(String(16), nullable=False)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    by: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # running | done | failed
    phase: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    sandbox: Mapped[str | None] = mapped_column(String(64), nullable=True)  # while it holds one
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
    heartbeat_at: Mapped[float] = mapped_column(Float, nullable=False)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    steps: Mapped[list] = mapped_column(JSON, nullable=False)
    report: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(Text, nullable=False, default="")
    __table_args__ = (Index("ix_lab_validations_state", "state"),)


def default_url(state_dir: Path) -> str:
    """The embedded default: a SQLite file in the server's state folder."""
    return f"sqlite:///{Path(state_dir).resolve() / 'classroom.db'}"


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mapped onto the psycopg 3 driver; others unchanged."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite: foreign keys on, WAL journal, a busy timeout for concurrent writers)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, json_serializer=json.dumps
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (the migrations ship in this package)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(url: str) -> sessionmaker:
    """Engine + migrations + a session factory: what the server and the CLI use."""
    engine = make_engine(url)
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)
