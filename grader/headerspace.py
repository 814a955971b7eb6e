"""Header spaces: sets of packet headers as ternary cubes over the header bit vector.

A *cube* is ``(value, mask)``: the headers whose bits under ``mask`` equal ``value``. A
``Space`` is a cube minus a union of excluded cubes (the higher-priority rules a packet class
did not match), plus an *overlay*: bits that set-field actions have overwritten. The cube and
exclusions always describe the **original** packets as they entered the network, so every
witness this module produces is a packet a host can send; the overlay gives the header as the
current switch sees it. A concrete packet is simply a space whose mask covers every bit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import EllipsisType

from sdnlab.grader.fields import ALL_BITS

WITNESS_BUDGET = 20000
Cube = tuple[int, int]  # (value, mask)
Pick = int | EllipsisType | None  # a header; Ellipsis: budget ran out; None: empty


def intersects(v1: int, m1: int, v2: int, m2: int) -> bool:
    return not ((v1 ^ v2) & m1 & m2)


def covers(outer_v: int, outer_m: int, inner_v: int, inner_m: int) -> bool:
    """True when cube ``outer`` contains cube ``inner``."""
    return not (outer_m & ~inner_m) and not ((outer_v ^ inner_v) & outer_m)


def witness(
    value: int, mask: int, excluded: Iterable[Cube], prefer: int = 0, budget: int = WITNESS_BUDGET
) -> Pick:
    """A full header inside cube (value, mask) and outside every excluded cube, or None.

    Free bits take their value from ``prefer``. Returns ``...`` (Ellipsis) when the budget runs
    out before deciding, which callers treat as "possibly non-empty".
    """
    stack = [(value & mask, mask, [e for e in excluded if intersects(value, mask, e[0], e[1])])]
    steps = 0
    while stack:
        steps += 1
        if steps > budget:
            return ...
        v, m, ex = stack.pop()
        ex = [e for e in ex if intersects(v, m, e[0], e[1])]
        if not ex:
            return (v & m) | (prefer & ~m & ALL_BITS)
        ev, em = ex[0]
        if covers(ev, em, v, m):
            continue
        free = em & ~m
        # Prefer splitting on the bit where ``prefer`` already differs from the exclusion.
        differing = free & (prefer ^ ev)
        pick = differing if differing else free
        bit = pick & -pick
        inside = ev & bit
        stack.append((v | inside, m | bit, ex))
        stack.append((v | (inside ^ bit), m | bit, ex[1:]))
    return None


@dataclass(frozen=True)
class Space:
    """Original packets ``cube - excluded``, currently seen with ``overlay`` bits rewritten."""

    value: int
    mask: int
    excluded: tuple[Cube, ...] = ()
    set_value: int = 0
    set_mask: int = 0

    @classmethod
    def of(cls, value: int, mask: int) -> Space:
        return cls(value & mask, mask)

    @property
    def current(self) -> tuple[int, int]:
        """The cube of headers as seen now (after rewrites)."""
        sm = self.set_mask
        return (self.value & ~sm) | self.set_value, self.mask | sm

    @property
    def is_concrete(self) -> bool:
        return self.mask & ALL_BITS == ALL_BITS

    def restrict(self, value: int, mask: int) -> Space | None:
        """This space intersected with current-header cube (value, mask), or None if empty for sure."""
        sm = self.set_mask
        on_rewritten = mask & sm
        if (value ^ self.set_value) & on_rewritten:
            return None
        mask &= ~sm
        if (value ^ self.value) & mask & self.mask:
            return None
        new_value = self.value | (value & mask)
        new_mask = self.mask | mask
        excluded = tuple(e for e in self.excluded if intersects(new_value, new_mask, e[0], e[1]))
        for ev, em in excluded:
            if covers(ev, em, new_value, new_mask):
                return None
        return Space(new_value, new_mask, excluded, self.set_value, self.set_mask)

    def subtract(self, value: int, mask: int) -> Space | None:
        """This space minus current-header cube (value, mask), or None if nothing is left."""
        sm = self.set_mask
        on_rewritten = mask & sm
        if (value ^ self.set_value) & on_rewritten:
            return self  # the cube cannot match these packets: nothing removed
        mask &= ~sm
        if (value ^ self.value) & mask & self.mask:
            return self
        if covers(value, mask, self.value, self.mask):
            return None
        return Space(
            self.value, self.mask, (*self.excluded, (value & mask, mask)), self.set_value, self.set_mask
        )

    def rewrite(self, value: int, mask: int) -> Space:
        """Overwrite header bits under ``mask`` with ``value`` (a set-field)."""
        return Space(
            self.value,
            self.mask,
            self.excluded,
            (self.set_value & ~mask) | (value & mask),
            self.set_mask | mask,
        )

    def pick(self, prefer: int = 0) -> Pick:
        """A concrete original header of this space (None if empty, Ellipsis if undecided)."""
        return witness(self.value, self.mask, self.excluded, prefer)

    def is_empty(self) -> bool:
        return self.pick() is None

    def current_value(self, prefer: int = 0) -> int:
        """A concrete current header (original witness with rewrites applied)."""
        original = self.pick(prefer)
        if not isinstance(original, int):
            original = self.value
        return (original & ~self.set_mask) | self.set_value

    def intersect_original(self, other: Space) -> Space | None:
        """Intersection of the original packet sets of two spaces (overlay of ``self`` kept)."""
        if not intersects(self.value, self.mask, other.value, other.mask):
            return None
        value = self.value | other.value
        mask = self.mask | other.mask
        excluded = tuple(e for e in self.excluded + other.excluded if intersects(value, mask, e[0], e[1]))
        for ev, em in excluded:
            if covers(ev, em, value, mask):
                return None
        return Space(value, mask, excluded, self.set_value, self.set_mask)
