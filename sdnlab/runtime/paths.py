"""Where running labs keep their state: ``/run/sdnlab/<name>/`` (override with SDNLAB_RUN_DIR).

The run directory and every lab directory are mode 0700 and the files in them 0600: what a lab
runs with (controller configs, addresses, logs) is readable by its owner (root) only.
Each lab directory holds ``spec.json`` (what was asked, written before anything is built, so
``clean`` can find the bridges even if the supervisor died early), ``state.json`` (what runs:
pids, bridges, ports, addresses; written when ready) and the supervisor and controller logs.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import IO, Any

from sdnlab.errors import EnvironmentProblem, UsageError

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,23}$")


def run_dir() -> Path:
    return Path(os.environ.get("SDNLAB_RUN_DIR", "/run/sdnlab"))


def check_name(name: str) -> str:
    """Lab names are short lowercase identifiers (they appear in paths and logs)."""
    if not _NAME.match(name or ""):
        raise UsageError(
            f"lab name {name!r}: use 1-24 lowercase letters, digits, '-' or '_', starting with a letter"
        )
    return name


def check_access() -> None:
    """``EnvironmentProblem`` when this user cannot read lab state (it belongs to root, mode 0700)."""
    base = run_dir()
    if base.exists() and not os.access(base, os.R_OK | os.X_OK):
        raise EnvironmentProblem(
            f"{base}: lab state is readable by its owner only: run sdnlab as root (sudo)"
        )


def lab_dir(name: str) -> Path:
    check_access()
    return run_dir() / check_name(name)


def ensure_run_dir() -> Path:
    """The run directory, created (or tightened) to mode 0700."""
    base = run_dir()
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    if base.stat().st_mode & 0o077 and base.stat().st_uid == os.geteuid():
        os.chmod(base, 0o700)
    return base


def make_lab_dir(name: str) -> Path:
    """Create lab ``name``'s directory, mode 0700."""
    ensure_run_dir()
    lab = lab_dir(name)
    lab.mkdir(mode=0o700)
    return lab


def open_private(path: Path, mode: str = "ab") -> IO[Any]:
    """Open a file for appending or writing, created with mode 0600 (logs and state)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode.startswith("a") else os.O_TRUNC)
    return os.fdopen(os.open(path, flags, 0o600), mode)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file; None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write atomically, so readers never see half a file."""
    from sdnlab.jsonio import write_atomic

    write_atomic(path, data, mode=0o600)  # lab state is its owner's


def lab_names() -> list[str]:
    base = run_dir()
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and _NAME.match(p.name))


def running_lab_names() -> list[str]:
    """Labs whose supervisor is alive (a directory left by a killed lab is not running)."""
    return [name for name in lab_names() if is_running(name)]


def is_running(name: str) -> bool:
    """Whether lab ``name`` has a state directory and its supervisor (or watcher) is alive."""
    lab = lab_dir(name)
    spec = read_json(lab / "spec.json") or {}
    state = read_json(lab / "state.json") or {}
    return is_lab_supervisor(spec.get("supervisor_pid") or state.get("supervisor_pid"), name)


# A lab's supervisor runs as ``python -m sdnlab.runtime.supervisor <lab>`` and, once the lab is
# ready, replaces itself (same pid) by ``python -S -c "...sdnlab.runtime.watcher..." <root> <lab>``.
SUPERVISOR_MARKS = (b"sdnlab.runtime.supervisor", b"from sdnlab.runtime.watcher import")


def is_lab_supervisor(pid: object, name: str) -> bool:
    """Whether ``pid`` is alive and is lab ``name``'s supervisor or watcher (its command line
    says so and ends with the lab's name). A pid recorded in a lab's state may belong to an
    unrelated process once the watcher died and the pid was reused: never signal it then."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or not pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().rstrip(b"\0").split(b"\0")
    except OSError:
        return False
    if len(argv) < 2 or argv[-1] != name.encode():
        return False
    return any(mark in arg for arg in argv[1:-1] for mark in SUPERVISOR_MARKS)


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
