"""Where running labs keep their state: ``/run/sdnlab/<name>/`` (override with SDNLAB_RUN_DIR).

Each lab directory holds ``spec.json`` (what was asked, written before anything is built, so
``clean`` can find the bridges even if the supervisor died early), ``state.json`` (what runs:
pids, bridges, ports, addresses; written when ready) and the supervisor and controller logs.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from sdnlab.errors import LabError

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,23}$")


def run_dir() -> Path:
    return Path(os.environ.get("SDNLAB_RUN_DIR", "/run/sdnlab"))


def check_name(name: str) -> str:
    """Lab names are short lowercase identifiers (they appear in paths and logs)."""
    if not _NAME.match(name or ""):
        raise LabError(
            f"lab name {name!r}: use 1-24 lowercase letters, digits, '-' or '_', starting with a letter"
        )
    return name


def lab_dir(name: str) -> Path:
    return run_dir() / check_name(name)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: dict) -> None:
    """Write atomically, so readers never see half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def lab_names() -> list[str]:
    base = run_dir()
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and _NAME.match(p.name))


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
