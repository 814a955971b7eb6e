"""The trainee workflow: a lab session is a running network plus a workspace and a hint counter.

A session is named after the runtime lab that holds its network (default ``lab``) and is stored
in ``$SDNLAB_HOME/sessions/<name>.json``: lab id, workspace folder, start time, hints used.
``start`` copies ``starter/`` into the workspace (unless it exists), brings the network up from
it (controller, flows, VNFs); ``check`` grades the public checks, ``submit`` all checks and
records the result; ``reset`` redeploys the workspace; ``apply_solution`` deploys the reference
(an instructor command) and marks the session, so that a later ``submit`` in it is recorded as
solved by the reference and never counted as the trainee's score; ``stop`` takes the network down.
Instructions printed for a session other than the default name carry its ``--name``.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from sdnlab.labs import grading, live, workspace
from sdnlab.labs.errors import LabSessionError, NoMoreHints
from sdnlab.labs.loader import load_lab
from sdnlab.labs.model import Lab, Text
from sdnlab.labs.progress import ProgressStore, sdnlab_home
from sdnlab.labs.results import LabResult

DEFAULT_NAME = "lab"


def command(words: str, name: str) -> str:
    """An ``sdnlab lab`` command line for session ``name`` (``--name`` only when it is not the default)."""
    return f"sdnlab lab {words}" + (f" --name {name}" if name != DEFAULT_NAME else "")


@dataclass(frozen=True)
class Session:
    """A running lab session."""

    name: str
    lab: str
    workdir: str
    started_at: float
    hints_used: int = 0
    reference_deployed: bool = False  # `sdnlab lab solve` ran in this session
    seed: int | None = None  # the variant's seed (`lab start --seed`); None: the catalogue lab
    lab_path: str = ""  # the rendered variant's folder when seeded

    def load(self) -> Lab:
        return load_lab(self.lab_path or self.lab)


def sessions_dir() -> Path:
    return sdnlab_home() / "sessions"


def _path(name: str) -> Path:
    from sdnlab.runtime import paths

    return sessions_dir() / f"{paths.check_name(name)}.json"


def _save(session: Session) -> None:
    path = _path(session.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(session), indent=1))
    os.replace(tmp, path)


def current(name: str = DEFAULT_NAME) -> Session:
    """The session ``name``; ``LabSessionError`` if none was started."""
    try:
        data = json.loads(_path(name).read_text())
    except FileNotFoundError:
        raise LabSessionError(
            f"no lab session {name!r}: start one with `{command('start ID', name)}`"
        ) from None
    except ValueError:
        raise LabSessionError(
            f"{_path(name)}: corrupt session file; `{command('stop', name)}` and start again"
        ) from None
    fields = set(Session.__dataclass_fields__)
    if not isinstance(data, dict) or not {"name", "lab", "workdir", "started_at"} <= set(data):
        raise LabSessionError(
            f"{_path(name)}: corrupt session file; `{command('stop', name)}` and start again"
        )
    return Session(**{k: v for k, v in data.items() if k in fields})


def describe(name: str = DEFAULT_NAME, now: float | None = None) -> dict:
    """What ``sdnlab lab status`` shows: the session, its lab (public fields only), whether its network runs."""
    from sdnlab.runtime import paths

    session = current(name)
    lab = session.load()
    now = time.time() if now is None else now
    state = paths.read_json(paths.lab_dir(name) / "state.json") or {}
    return {
        "name": session.name,
        "lab": lab.id,
        "number": lab.number,
        "title": lab.title.en,
        "workdir": session.workdir,
        "elapsed_min": round((now - session.started_at) / 60.0, 1),
        "hints_used": session.hints_used,
        "hints_total": len(lab.hints),
        "reference_deployed": session.reference_deployed,
        "network_up": state.get("phase") == "ready" and paths.pid_alive(state.get("supervisor_pid")),
    }


def default_workdir(lab: Lab) -> Path:
    return sdnlab_home() / "work" / lab.id


def start(
    lab: Lab, name: str = DEFAULT_NAME, workdir: Path | None = None, fresh: bool = False
) -> tuple[Session, dict]:
    """Copy the starter (unless the workspace exists), bring the network up, remember the session."""
    from sdnlab.runtime import paths

    if _path(name).exists():
        other = current(name)
        if paths.lab_dir(name).exists():
            raise LabSessionError(
                f"session {name!r} already runs lab {other.lab!r}: `{command('stop', name)}` first "
                f"(or start another session with a different --name)"
            )
        _path(name).unlink()
    workdir = Path(workdir) if workdir else default_workdir(lab)
    if workdir.exists() and not workdir.is_dir():
        raise LabSessionError(
            f"--workdir {workdir}: exists and is not a folder; give a folder (new or a workspace)"
        )
    if fresh or not workdir.exists():
        workspace.copy_tree(lab.starter_dir, workdir)
    status = live.up(lab, workdir, name)
    variant = (
        json.loads((lab.path / "variant.json").read_text()) if (lab.path / "variant.json").is_file() else {}
    )
    session = Session(
        name,
        lab.id,
        str(workdir.resolve()),
        time.time(),
        0,
        seed=variant.get("seed"),
        lab_path=str(lab.path) if variant else "",
    )
    _save(session)
    return session, status


def check(name: str = DEFAULT_NAME) -> LabResult:
    """Grade the public checks on the live lab (hidden ones are never run here)."""
    session = current(name)
    return grading.grade_live(session.load(), name, include_hidden=False)


def hint(name: str = DEFAULT_NAME) -> tuple[int, int, Text]:
    """The next hint (1-based index, total, text); the count is recorded in the session and progress."""
    session = current(name)
    lab = session.load()
    if session.hints_used >= len(lab.hints):
        raise NoMoreHints(f"no more hints: you have seen all {len(lab.hints)} hints of {lab.id}")
    used = session.hints_used + 1
    _save(replace(session, hints_used=used))
    ProgressStore().note_hint(lab.id, used)
    return used, len(lab.hints), lab.hints[used - 1]


def submit(name: str = DEFAULT_NAME, store: ProgressStore | None = None) -> tuple[LabResult, dict]:
    """Grade every check (hidden ones too) and record the result; returns (result, record)."""
    session = current(name)
    lab = session.load()
    result = grading.grade_live(lab, name, include_hidden=True)
    record = result_record(lab, result, session)
    (store or ProgressStore()).add_result(record)
    return result, record


def result_record(
    lab: Lab, result: LabResult, session: Session | None = None, now: float | None = None
) -> dict:
    """The stored record of a submission: score, time, hints used, grader version (no hidden details)."""
    from sdnlab.certification.evidence import skill_evidence

    now = time.time() if now is None else now
    return {
        "lab": lab.id,
        "number": lab.number,
        "percent": result.percent,
        "score": result.score,
        "max_score": result.max_score,
        "passed": result.passed,
        "submitted_at": datetime.datetime.fromtimestamp(now, datetime.UTC).isoformat(timespec="seconds"),
        "duration_s": round(now - session.started_at, 1) if session else None,
        "hints_used": session.hints_used if session else 0,
        "grader_version": result.grader_version,
        "mode": result.mode,
        "checks_passed": sum(i.passed for i in result.items),
        "checks_total": len(result.items),
        "skill_evidence": skill_evidence(lab.path, result),  # per skill and level, no check ids
        "seed": session.seed if session else None,  # the variant graded (None: the catalogue lab)
        "solved_by_reference": bool(session and session.reference_deployed),
    }


def reset(name: str = DEFAULT_NAME, starter: bool = False) -> Session:
    """Redeploy the workspace on the network (``starter``: restore the starter files first)."""
    session = current(name)
    lab = session.load()
    workdir = Path(session.workdir)
    if starter:
        workspace.copy_tree(lab.starter_dir, workdir)
    redeploy(lab, workdir, name)
    return session


def redeploy(lab: Lab, source: Path, name: str) -> None:
    """Put a workspace (the trainee's, or the solution) on the running lab."""
    from sdnlab.runtime import api

    if lab.controller.mode == "none":
        live.deploy(lab, source, name, api.status(name))
        return
    api.down(name)  # the controller app or its config changed: restart the network
    live.up(lab, source, name)


def apply_solution(name: str = DEFAULT_NAME) -> Session:
    """Deploy the lab's reference solution on the running session (instructors, tests) and mark it.

    From then on a ``submit`` in this session is recorded with ``solved_by_reference`` and does
    not count as the trainee's score; a new session (``stop``, ``start``) clears the mark.
    """
    session = current(name)
    lab = session.load()
    marked = replace(session, reference_deployed=True)
    _save(marked)  # before deploying: a half-deployed reference still counts as the reference
    redeploy(lab, lab.solution_dir, name)
    return marked


def stop(name: str = DEFAULT_NAME) -> Session:
    """Take the session's network down and forget the session (the workspace stays)."""
    from sdnlab.errors import LabError
    from sdnlab.runtime import api

    session = current(name)
    try:
        api.down(name)
    except LabError:
        pass  # already down
    _path(name).unlink(missing_ok=True)
    return session
