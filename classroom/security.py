"""Accounts and their protection: argon2 password hashes, login tokens, CSRF tokens, login rate limits.

The browser holds a random login token in an HttpOnly, SameSite=Strict cookie; the database
keeps only its SHA-256. ``POST /api/login`` also answers a CSRF token that every state-changing
request must carry in ``X-CSRF-Token`` (compared in constant time). Failed logins are counted
per user name and per client address in a sliding window.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

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
    """At most ``attempts`` failed logins per key (user name, client address) within ``window`` seconds."""

    def __init__(self, attempts: int = 5, window: float = 60.0):
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, keys: list[str], now: float | None = None) -> float:
        """Seconds to wait before another attempt is allowed for any of ``keys`` (0: allowed now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            waits = [
                failures[0] + self.window - now
                for failures in (self._recent(k, now) for k in keys)
                if len(failures) >= self.attempts
            ]
        return max(waits, default=0.0)

    def failed(self, keys: list[str], now: float | None = None) -> None:
        """Count one failed attempt against each key."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, keys: list[str]) -> None:
        """Forget the failures of a user who logged in."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
