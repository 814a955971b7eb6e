"""Backend schedulers: round-robin, weighted round-robin, least-connections, source-hash, Maglev.

Each scheduler is rebuilt with ``set_pool(available)`` whenever the set of backends taking
new flows changes, and answers ``pick(flow_hash, src_ip)`` for a new flow. Hashes are stable
across processes (CRC32 / BLAKE2, never Python's salted ``hash``), so several workers or a
restarted VNF agree. Maglev (Eisenbud et al., NSDI 2016) fills a prime-sized lookup table
from per-backend permutations so that a pool change moves only about 1/N of the flows.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence

from sdnlab.vnfs.lb.pool import BackendState

SCHEDULERS = ("round_robin", "weighted_round_robin", "least_connections", "source_hash", "maglev")


def stable_hash(data: bytes, salt: bytes = b"") -> int:
    """A 64-bit hash of ``data`` that is the same in every process."""
    return int.from_bytes(hashlib.blake2b(data, digest_size=8, key=salt[:64]).digest(), "big")


class Scheduler:
    """Base: holds the available pool; ``pick`` returns a BackendState or None if empty."""

    name = "base"

    def __init__(self) -> None:
        self.pool: tuple[BackendState, ...] = ()

    def set_pool(self, available: Sequence[BackendState]) -> None:
        """Replace the backends that may receive new flows (in config order)."""
        self.pool = tuple(available)

    def pick(self, flow_hash: int, src_ip: bytes) -> BackendState | None:
        """Choose a backend for a new flow."""
        raise NotImplementedError


class RoundRobin(Scheduler):
    """Each new flow goes to the next backend in turn, ignoring weights."""

    name = "round_robin"

    def __init__(self) -> None:
        super().__init__()
        self._next = 0

    def pick(self, flow_hash: int, src_ip: bytes) -> BackendState | None:
        if not self.pool:
            return None
        backend = self.pool[self._next % len(self.pool)]
        self._next = (self._next + 1) % len(self.pool)
        return backend


class WeightedRoundRobin(Scheduler):
    """Smooth weighted round-robin: weights 3:1 give a,a,b,a (interleaved, not bursts)."""

    name = "weighted_round_robin"

    def set_pool(self, available: Sequence[BackendState]) -> None:
        super().set_pool(available)
        self._current = [0] * len(self.pool)

    def pick(self, flow_hash: int, src_ip: bytes) -> BackendState | None:
        if not self.pool:
            return None
        total = 0
        best = 0
        current = self._current
        for i, state in enumerate(self.pool):
            current[i] += state.weight
            total += state.weight
            if current[i] > current[best]:
                best = i
        current[best] -= total
        return self.pool[best]


class LeastConnections(Scheduler):
    """The backend with the fewest active flows per unit of weight; ties go to config order."""

    name = "least_connections"

    def pick(self, flow_hash: int, src_ip: bytes) -> BackendState | None:
        if not self.pool:
            return None
        return min(self.pool, key=lambda s: s.active / s.weight)


class SourceHash(Scheduler):
    """All flows of one client address go to the same backend while the pool is unchanged."""

    name = "source_hash"

    def pick(self, flow_hash: int, src_ip: bytes) -> BackendState | None:
        if not self.pool:
            return None
        return self.pool[zlib.crc32(src_ip) % len(self.pool)]


def is_prime(n: int) -> bool:
    """True when ``n`` is a prime number (Maglev table sizes must be)."""
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True


def maglev_table(names: Sequence[str], weights: Sequence[int], size: int) -> list[int]:
    """The Maglev lookup table: entry -> index into ``names``; weight w takes w turns per round."""
    if not is_prime(size):
        raise ValueError(f"Maglev table size must be prime, got {size}")
    if not names:
        return []
    offsets, skips = [], []
    for name in names:
        key = name.encode()
        offsets.append(stable_hash(key, b"maglev-offset") % size)
        skips.append(stable_hash(key, b"maglev-skip") % (size - 1) + 1)
    table = [-1] * size
    nexts = [0] * len(names)
    filled = 0
    while True:
        for i in range(len(names)):
            for _ in range(weights[i]):
                c = (offsets[i] + nexts[i] * skips[i]) % size
                while table[c] >= 0:
                    nexts[i] += 1
                    c = (offsets[i] + nexts[i] * skips[i]) % size
                table[c] = i
                nexts[i] += 1
                filled += 1
                if filled == size:
                    return table


class Maglev(Scheduler):
    """Maglev consistent hashing over the flow hash; weights set each backend's table share."""

    name = "maglev"

    def __init__(self, table_size: int = 65537) -> None:
        super().__init__()
        self.table_size = table_size
        self.table: list[int] = []

    def set_pool(self, available: Sequence[BackendState]) -> None:
        super().set_pool(available)
        self.table = maglev_table([s.name for s in self.pool], [s.weight for s in self.pool], self.table_size)

    def pick(self, flow_hash: int, src_ip: bytes) -> BackendState | None:
        if not self.pool:
            return None
        return self.pool[self.table[flow_hash % self.table_size]]


def make_scheduler(name: str, maglev_table_size: int = 65537) -> Scheduler:
    """A scheduler by its config name."""
    if name == "round_robin":
        return RoundRobin()
    if name == "weighted_round_robin":
        return WeightedRoundRobin()
    if name == "least_connections":
        return LeastConnections()
    if name == "source_hash":
        return SourceHash()
    if name == "maglev":
        return Maglev(maglev_table_size)
    raise ValueError(f"unknown scheduler {name!r}")
