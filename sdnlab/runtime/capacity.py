"""How many labs this machine may run at once, sized from its memory and CPUs (no fixed cap).

Each running lab takes a *slot*: a small number that prefixes its OVS bridge names (``l7s1``)
so that labs side by side never share a bridge. The limit is the smallest of

- ``SDNLAB_MAX_LABS`` when set (an instructor's explicit choice), else
- memory: ``MEMORY_SHARE`` of the machine's memory divided by ``LAB_BUDGET_MIB`` per lab,
- CPU: ``LABS_PER_CPU`` labs per core (an idle lab takes about 5% of a core), and
- the naming ceiling ``SLOT_CEILING``: slot numbers have at most two digits, so a bridge
  prefix is at most ``LONGEST_PREFIX`` characters (``l99``), which topology validation
  reserves within Linux's 15-character interface names.

A new lab is also refused when the memory the kernel reports available is below one lab's
budget. Refusals raise ``NoLabSlot`` (an environment problem, not a mistake in the lab) with
a message naming the limit and how it was reached.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sdnlab.errors import EnvironmentProblem

SLOT_CEILING = 100
LONGEST_PREFIX = len(f"l{SLOT_CEILING - 1}")
LAB_BUDGET_MIB = 128
MEMORY_SHARE = 0.75
LABS_PER_CPU = 16
ENV_VAR = "SDNLAB_MAX_LABS"


class NoLabSlot(EnvironmentProblem):
    """No room for another lab on this machine (the limit, or memory, is reached)."""


@dataclass(frozen=True)
class Limit:
    """The number of labs allowed at once and the reason (shown when a lab is refused)."""

    labs: int
    reason: str


def meminfo() -> dict[str, int]:
    """``/proc/meminfo`` in KiB (empty when unreadable)."""
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as lines:
            for line in lines:
                key, _, rest = line.partition(":")
                number = rest.split()[0] if rest.split() else ""
                if number.isdigit():
                    values[key] = int(number)
    except OSError:
        pass
    return values


def limit_for(configured: str | None, memory_mib: int, cpus: int, ceiling: int = SLOT_CEILING) -> Limit:
    """The lab limit for a machine with ``memory_mib`` of memory and ``cpus`` cores (pure)."""
    if configured is not None and configured.strip():
        text = configured.strip()
        if not text.isdigit() or not 1 <= int(text) <= ceiling:
            raise NoLabSlot(f"{ENV_VAR}={configured!r}: expected a whole number from 1 to {ceiling}")
        return Limit(int(text), f"{ENV_VAR}={int(text)}")
    by_memory = max(1, int(memory_mib * MEMORY_SHARE) // LAB_BUDGET_MIB)
    by_cpu = max(1, cpus * LABS_PER_CPU)
    labs = min(by_memory, by_cpu, ceiling)
    if labs == ceiling:
        reason = f"at most {ceiling} slots (bridge prefixes l1..l{ceiling - 1})"
    elif labs == by_cpu:
        reason = f"{cpus} CPU(s) x {LABS_PER_CPU} labs; set {ENV_VAR} to change it"
    else:
        reason = (
            f"{memory_mib} MiB of memory x {MEMORY_SHARE:g} / {LAB_BUDGET_MIB} MiB per lab; "
            f"set {ENV_VAR} to change it"
        )
    return Limit(labs, reason)


def machine_limit() -> Limit:
    """This machine's lab limit (``SDNLAB_MAX_LABS`` or sized from memory and CPUs)."""
    memory_mib = meminfo().get("MemTotal", 0) // 1024
    return limit_for(os.environ.get(ENV_VAR), memory_mib, os.cpu_count() or 1)


def free_slot(taken: set[int], limit: Limit | None = None, available_mib: int | None = None) -> int:
    """The lowest free slot number, or ``NoLabSlot`` naming the limit that stops a new lab."""
    limit = limit or machine_limit()
    if len(taken) >= limit.labs:
        raise NoLabSlot(
            f"no room for another lab: {len(taken)} labs are running and this machine allows "
            f"{limit.labs} ({limit.reason}); stop one first (`sdnlab status` lists them)"
        )
    if available_mib is None:
        available_mib = meminfo().get("MemAvailable", 1 << 30) // 1024
    if available_mib < LAB_BUDGET_MIB:
        raise NoLabSlot(
            f"no room for another lab: only {available_mib} MiB of memory is available "
            f"(a lab needs about {LAB_BUDGET_MIB} MiB); stop a lab or free memory first"
        )
    return next(s for s in range(SLOT_CEILING) if s not in taken)
