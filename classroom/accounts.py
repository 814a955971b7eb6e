"""Users and classes: creating accounts, importing a class from CSV, the audit log.

A CSV import file has a header line with ``username,password,role,class`` (role and class
optional: role defaults to trainee). Every row is validated before any is written, and every
problem is reported with its line number at once.
"""

from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from sdnlab.classroom import security
from sdnlab.classroom.db import ROLES, AuditEntry, ClassGroup, Membership, User
from sdnlab.classroom.errors import AccountError

_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
_CLASS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


@dataclass(frozen=True)
class NewUser:
    """A validated account to create."""

    username: str
    password: str
    role: str = "trainee"
    class_name: str | None = None


def check_new_user(username: str, password: str, role: str, class_name: str | None) -> NewUser:
    """The account as a ``NewUser``; ``AccountError`` naming the field that is wrong."""
    if not _NAME.match(username or ""):
        raise AccountError(
            f"username {username!r}: 1-32 lowercase letters, digits, '_', '.', '-', starting with a letter"
        )
    if role not in ROLES:
        raise AccountError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if not security.MIN_PASSWORD <= len(password) <= security.MAX_PASSWORD:
        raise AccountError(
            f"password of {username}: {security.MIN_PASSWORD} to {security.MAX_PASSWORD} characters expected"
        )
    if class_name is not None:
        check_class_name(class_name)
    return NewUser(username, password, role, class_name or None)


def check_class_name(name: str) -> str:
    """A valid class name; ``AccountError`` otherwise."""
    if not _CLASS.match(name or ""):
        raise AccountError(f"class {name!r}: 1-64 letters, digits, spaces, '_', '.', '-'")
    return name


def audit(db: DbSession, actor: User | None, action: str, detail: str = "", actor_name: str = "") -> None:
    """Add an audit entry (committed with the caller's transaction)."""
    db.add(
        AuditEntry(
            at=time.time(),
            user_id=actor.id if actor else None,
            actor=actor.username if actor else (actor_name or "system"),
            action=action,
            detail=detail,
        )
    )


def class_named(db: DbSession, name: str, create: bool = True) -> ClassGroup:
    """The class ``name`` (created when missing and ``create``)."""
    group = db.scalar(select(ClassGroup).where(ClassGroup.name == name))
    if group is None:
        if not create:
            raise AccountError(f"no class {name!r}")
        group = ClassGroup(name=name, created_at=time.time())
        db.add(group)
        db.flush()
    return group


def add_user(db: DbSession, new: NewUser, actor: User | None = None, actor_name: str = "cli") -> User:
    """Create the account (and its class membership); ``AccountError`` if the name is taken."""
    if db.scalar(select(User).where(User.username == new.username)) is not None:
        raise AccountError(f"user {new.username!r} exists already")
    user = User(
        username=new.username,
        password_hash=security.hash_password(new.password),
        role=new.role,
        created_at=time.time(),
        disabled=False,
    )
    db.add(user)
    db.flush()
    if new.class_name:
        db.add(Membership(user_id=user.id, class_id=class_named(db, new.class_name).id))
    audit(db, actor, "user.add", f"{new.username} role={new.role} class={new.class_name or '-'}", actor_name)
    return user


def parse_csv(text: str, source: str = "CSV") -> list[NewUser]:
    """The accounts of an import file, all rows checked; ``AccountError`` lists every bad row."""
    reader = csv.DictReader(io.StringIO(text))
    fields = set(reader.fieldnames or ())
    if not {"username", "password"} <= fields:
        raise AccountError(
            f"{source}: line 1: header must name at least username,password (optional: role,class)"
        )
    users, problems, seen = [], [], set()
    for row in reader:
        line = reader.line_num
        try:
            new = check_new_user(
                (row.get("username") or "").strip(),
                row.get("password") or "",
                (row.get("role") or "trainee").strip(),
                (row.get("class") or "").strip() or None,
            )
        except AccountError as exc:
            problems.append(f"{source}: line {line}: {exc}")
            continue
        if new.username in seen:
            problems.append(f"{source}: line {line}: username {new.username!r} appears twice")
        seen.add(new.username)
        users.append(new)
    if problems:
        raise AccountError("\n".join(problems))
    if not users:
        raise AccountError(f"{source}: no users in the file")
    return users


def import_users(db: DbSession, users: list[NewUser], actor: User | None = None) -> list[User]:
    """Create every account of an import (all or none: the caller commits)."""
    return [add_user(db, new, actor, "import") for new in users]


def user_classes(db: DbSession, user_id: int) -> list[str]:
    """Names of the classes a user belongs to."""
    rows = db.scalars(
        select(ClassGroup.name)
        .join(Membership, Membership.class_id == ClassGroup.id)
        .where(Membership.user_id == user_id)
    )
    return sorted(rows)
