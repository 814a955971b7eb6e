"""Accounts and their protection: argon2 password hashes, login tokens, CSRF tokens, login rate limits.

The browser holds a random login token in an HttpOnly, SameSite=Strict cookie; the database
keeps only its SHA-256. ``POST /api/login`` also answers a CSRF token that every state-changing
request must carry in ``X-CSRF-Token`` (compared in constant time). Failed logins are counted
per user name and per client address in a sliding window, in the database (shared by replicas).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sdnlab.classroom.db import LoginFailure

_HASHER = PasswordHasher()
# a hash to verify against when the user does not exist, so that timing does not tell
_DUMMY_HASH = _HASHER.hash("not a password of anyone")

MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def hash_password(password: str) -> str:
    """The argon2id hash of ``password``."""
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored`` (a missing user still costs one verification)."""
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database stores for a login token."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison of two tokens."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


class LoginLimiter:
    """At most ``attempts`` failed logins per key (user name, client address) within ``window`` seconds.

    The failures are rows of ``login_failures`` in the server's database, so several server
    replicas on one database share the limit (an attacker spreading guesses over replicas
    gets no more tries). Times are wall-clock seconds, which every replica agrees on. The
    methods work in the caller's database session (the login request's own: a second session
    per request would need a second pooled connection, and twenty logins at once would wait
    for each other's); the caller commits.
    """

    def __init__(self, attempts: int = 5, window: float = 60.0, clock: Callable[[], float] = time.time):
        self.attempts = attempts
        self.window = window
        self.clock = clock

    def retry_after(self, db: Session, keys: list[str], now: float | None = None) -> float:
        """Seconds to wait before another attempt is allowed for any of ``keys`` (0: allowed now)."""
        now = self.clock() if now is None else now
        rows = db.execute(
            select(LoginFailure.key, func.count(), func.min(LoginFailure.at))
            .where(LoginFailure.key.in_(keys), LoginFailure.at > now - self.window)
            .group_by(LoginFailure.key)
        ).all()
        return max(
            (oldest + self.window - now for _key, count, oldest in rows if count >= self.attempts),
            default=0.0,
        )

    def failed(self, db: Session, keys: list[str], now: float | None = None) -> None:
        """Count one failed attempt against each key (and forget the key's failures out of the window)."""
        now = self.clock() if now is None else now
        db.execute(
            delete(LoginFailure).where(LoginFailure.key.in_(keys), LoginFailure.at <= now - self.window)
        )
        db.add_all(LoginFailure(key=key[:160], at=now) for key in keys)

    def succeeded(self, db: Session, keys: list[str]) -> None:
        """Forget the failures of a user who logged in."""
        db.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys)))
