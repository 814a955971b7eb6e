"""A bounded flow table: LRU eviction plus idle timeouts, for per-flow VNF state.

Entries live in an ``OrderedDict`` kept in order of last use, so the least recently used
entry is always first: evicting for space and expiring idle flows are both O(removed).
Time is passed in as ``now`` (seconds, any monotonic clock) so tests control it. Keys are
whatever the caller chooses; ``sdnlab.vnfs.packet.bidi_key`` gives one key for both
directions of a connection.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Any

EvictHook = Callable[[Hashable, Any, str], None]


class FlowTable:
    """Maps flow keys to values, holding at most ``max_flows`` entries idle < ``idle_timeout``."""

    __slots__ = ("_entries", "_on_evict", "evicted_lru", "expired_idle", "idle_timeout", "max_flows")

    def __init__(
        self, max_flows: int = 65536, idle_timeout: float = 300.0, on_evict: EvictHook | None = None
    ):
        if max_flows < 1:
            raise ValueError("max_flows must be >= 1")
        self.max_flows = max_flows
        self.idle_timeout = idle_timeout
        self._entries: OrderedDict[Hashable, list] = OrderedDict()  # key -> [value, last_seen]
        self._on_evict = on_evict
        self.evicted_lru = 0
        self.expired_idle = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def get(self, key: Hashable, now: float) -> Any | None:
        """The live value for ``key`` (refreshing its idle timer), or None if absent or expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now - entry[1] > self.idle_timeout:
            del self._entries[key]
            self.expired_idle += 1
            if self._on_evict is not None:
                self._on_evict(key, entry[0], "idle")
            return None
        entry[1] = now
        self._entries.move_to_end(key)
        return entry[0]

    def peek(self, key: Hashable) -> Any | None:
        """The value for ``key`` without touching its timer or LRU position."""
        entry = self._entries.get(key)
        return None if entry is None else entry[0]

    def put(self, key: Hashable, value: Any, now: float) -> None:
        """Insert or replace ``key``; evicts the least recently used entry when full."""
        entries = self._entries
        if key in entries:
            entries[key] = [value, now]
            entries.move_to_end(key)
            return
        if len(entries) >= self.max_flows:
            self.expire(now)
            while len(entries) >= self.max_flows:
                old_key, old = entries.popitem(last=False)
                self.evicted_lru += 1
                if self._on_evict is not None:
                    self._on_evict(old_key, old[0], "lru")
        entries[key] = [value, now]

    def pop(self, key: Hashable) -> Any | None:
        """Remove ``key`` and return its value (no eviction hook: the caller decided)."""
        entry = self._entries.pop(key, None)
        return None if entry is None else entry[0]

    def expire(self, now: float) -> int:
        """Drop every entry idle for longer than the timeout; returns how many went."""
        entries = self._entries
        removed = 0
        limit = now - self.idle_timeout
        while entries:
            key, entry = next(iter(entries.items()))
            if entry[1] >= limit:
                break
            del entries[key]
            removed += 1
            if self._on_evict is not None:
                self._on_evict(key, entry[0], "idle")
        self.expired_idle += removed
        return removed

    def items(self) -> Iterator[tuple[Hashable, Any]]:
        """(key, value) pairs from least to most recently used."""
        for key, entry in list(self._entries.items()):
            yield key, entry[0]

    def clear(self) -> None:
        """Forget every entry without calling the eviction hook."""
        self._entries.clear()
