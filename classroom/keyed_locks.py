"""One lock per key, kept only while someone holds it or waits for it.

A server that serialises work per key (one print of a certificate page at a time, by the page's
hash) needs a lock per key, but the keys never stop coming: a dict of locks that is never pruned
grows by one entry per key ever seen. ``KeyedLocks`` counts the threads that hold or wait for
each key's lock and drops the entry when the count falls to zero. That keeps the rule: while one
thread holds a key's lock, its count is at least one, so the entry stays and every other thread
asking for that key finds the same lock and waits on it; a new lock is made only for a key no
thread holds or waits for, where there is nothing to exclude.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0  # threads holding or waiting for ``lock``


class KeyedLocks:
    """Mutual exclusion per key, with no entry left for a key nobody holds or waits for."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}

    @contextmanager
    def hold(self, key: Hashable, timeout: float) -> Iterator[bool]:
        """Hold ``key``'s lock for the ``with`` block; yields False (not holding it) when it could not
        be had within ``timeout`` seconds. Either way the key's entry is dropped on the way out when
        no other thread holds or waits for it."""
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry()
            entry.users += 1
        try:
            got = entry.lock.acquire(timeout=timeout)
            try:
                yield got
            finally:
                if got:
                    entry.lock.release()
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0:
                    del self._entries[key]

    def __len__(self) -> int:
        """Keys held or waited for now."""
        with self._guard:
            return len(self._entries)
