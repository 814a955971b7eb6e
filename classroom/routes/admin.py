"""For admins: the running server's settings (no secrets) and its capacity (sandboxes, host load, memory).

Settings are shown, not changed: they come from ``sdnlab serve`` options. Anything whose name
looks like a secret (password, token, key, secret) is masked, and the database URL is shown
without its password.
"""

import json
import os
import re
import time
from dataclasses import asdict
from pathlib import Path

from fastapi import APIRouter
from sqlalchemy import func, select

from sdnlab.classroom.db import RUNNING_STATES, LabSession
from sdnlab.classroom.deps import Admin, Db, Room

router = APIRouter(prefix="/api/admin", tags=["admin"])
SECRET_NAME = re.compile(r"pass|secret|token|key|credential", re.IGNORECASE)
MASK = "********"
CLASSROOM_BENCH = Path(__file__).resolve().parents[2] / "bench" / "results" / "classroom.json"


def masked(settings: dict) -> dict:
    """The settings with every value under a secret-looking name masked (nested dictionaries too)."""
    out: dict = {}
    for name, value in settings.items():
        if SECRET_NAME.search(str(name)):
            out[name] = MASK
        elif isinstance(value, dict):
            out[name] = masked(value)
        else:
            out[name] = value
    return out


def host_load() -> dict:
    """Load averages, CPUs and memory of the host the web process runs on (``/proc``)."""
    from sdnlab.runtime.capacity import meminfo

    load1, load5, load15 = os.getloadavg()
    mem = meminfo()
    return {
        "cpus": os.cpu_count() or 1,
        "load": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "mem_total_mib": mem.get("MemTotal", 0) // 1024,
        "mem_available_mib": mem.get("MemAvailable", 0) // 1024,
    }


def measured_cost(path: Path = CLASSROOM_BENCH) -> dict | None:
    """The host memory per sandbox measured by ``bench/classroom`` (its largest step), if recorded."""
    try:
        data = json.loads(path.read_text())
        step = max(data["steps"], key=lambda s: s["trainees"])
        return {
            "memory_mib": step["host_mem_per_sandbox_mib"],
            "trainees": step["trainees"],
            "lab": data.get("lab"),
            "source": "bench/results/classroom.json",
        }
    except (OSError, ValueError, KeyError, TypeError):
        return None


@router.get("/settings")
def settings(user: Admin, room: Room):
    """The running server's settings (read-only; secrets masked)."""
    url = room.factory.kw["bind"].url
    return {
        "settings": masked(asdict(room.settings)),
        "backend": room.backend.kind,
        "database": url.render_as_string(hide_password=True),
        "labs": sorted(room.labs),
    }


@router.get("/capacity")
def capacity(db: Db, user: Admin, room: Room):
    """Running sandboxes against the cap, the cost of one sandbox, and the host's load and memory."""
    from sdnlab.runtime.capacity import LAB_BUDGET_MIB, machine_limit

    rows = db.execute(
        select(LabSession.lab_id, func.count())
        .where(LabSession.state.in_(RUNNING_STATES))
        .group_by(LabSession.lab_id)
    ).all()
    limit = machine_limit()
    return {
        "running": sum(n for _lab, n in rows),
        "by_lab": {lab: int(n) for lab, n in rows},
        "max_sandboxes": room.settings.max_sandboxes,
        "pool": room.pool.size(),  # warm sandboxes, ready or starting: they count against the cap
        "validations": room.validations.held(),  # sandboxes of instructors' lab validations
        "machine_limit": {"labs": limit.labs, "reason": limit.reason},
        "per_sandbox": {"budget_mib": LAB_BUDGET_MIB, "measured": measured_cost()},
        "host": host_load(),
        "at": time.time(),
    }
