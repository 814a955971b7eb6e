"""The trainee workflow: a lab session is a running network plus a workspace and a hint counter.

A session is named after the runtime lab that holds its network (default ``DEFAULT_NAME``, the
runtime's default lab name) and is stored
in ``$SDNLAB_HOME/sessions/<name>.json``: lab id, workspace folder, start time, hints used.
``start`` copies ``starter/`` into the workspace (unless it exists), brings the network up from
it (controller, flows, VNFs); ``check`` grades the public checks, ``submit`` all checks and
records the result; ``reset`` redeploys the workspace; ``apply_solution`` deploys the reference
(an instructor command) and marks the session, so that a later ``submit`` in it is recorded as
solved by the reference and never counted as the trainee's score; ``stop`` takes the network down.
Instructions printed for a session other than the default name carry its ``--name``;
``current_name`` is the session a command acts on when no ``--name`` is given.
"""

from __future__ import annotations

import datetime
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from sdnlab.labs import grading, live, workspace
from sdnlab.labs.errors import LabSessionError, NoMoreHints
from sdnlab.labs.loader import load_lab
from sdnlab.labs.model import Lab, Text
from sdnlab.labs.progress import ProgressStore, sdnlab_home
from sdnlab.labs.results import CheckedBy, LabResult
from sdnlab.runtime.api import DEFAULT_NAME  # one default lab name for sessions and runtime labs


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
    lab_path: str = ""  # the lab package's folder (a lab started from a path, or a rendered variant)

    def load(self) -> Lab:
        """The session's lab package (from its folder when known, else by id from the catalogue)."""
        if self.lab_path and Path(self.lab_path, "lab.yaml").is_file():
            return load_lab(self.lab_path)
        return load_lab(self.lab)


def sessions_dir() -> Path:
    return sdnlab_home() / "sessions"


def session_names() -> list[str]:
    """The names of the trainee's sessions (one file each in ``sessions_dir()``), sorted."""
    folder = sessions_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json"))


def current_name(explicit: str | None = None) -> str:
    """The lab a command acts on when ``--name`` is not given: the trainee's current session.

    ``explicit`` wins; else the session named ``DEFAULT_NAME`` if there is one, else the
    trainee's only session, else ``DEFAULT_NAME`` (no session: a lab started with ``sdnlab up``).
    Several sessions and none of them the default: an error asking for ``--name``.
    """
    if explicit:
        return explicit
    names = session_names()
    if not names or DEFAULT_NAME in names:
        return DEFAULT_NAME
    if len(names) == 1:
        return names[0]
    raise LabSessionError(f"you have several lab sessions ({', '.join(names)}): say which with --name")


def _path(name: str) -> Path:
    from sdnlab.runtime import paths

    return sessions_dir() / f"{paths.check_name(name)}.json"


def _save(session: Session) -> None:
    from sdnlab.jsonio import write_atomic

    path = _path(session.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, asdict(session), sort_keys=False)


def current(name: str = DEFAULT_NAME) -> Session:
    """The session ``name``; ``LabSessionError`` if none was started."""
    try:
        data = json.loads(_path(name).read_text())
    except FileNotFoundError:
        raise LabSessionError(
            f"no lab session {name!r}: start one with `{command('start ID', name)}`"
        ) from None
    except (ValueError, OSError):
        raise CorruptSession(_corrupt(name)) from None
    fields = set(Session.__dataclass_fields__)
    texts_ok = isinstance(data, dict) and all(
        isinstance(data.get(k), str) for k in ("name", "lab", "workdir")
    )
    if not texts_ok or not isinstance(data.get("started_at"), (int, float)):
        raise CorruptSession(_corrupt(name))
    return Session(**{k: v for k, v in data.items() if k in fields})


class CorruptSession(LabSessionError):
    """A session file that cannot be read (``stop`` still works: it removes it)."""


def _corrupt(name: str) -> str:
    return (
        f"{_path(name)}: corrupt session file; `{command('stop', name)}` removes it (and takes its "
        "network down), then start again; your workspace is kept"
    )


def describe(name: str = DEFAULT_NAME, now: float | None = None) -> dict:
    """What ``sdnlab lab status`` shows: the session, its lab (public fields only), whether it runs."""
    from sdnlab.runtime import paths

    session = current(name)
    lab = session.load()
    now = time.time() if now is None else now
    state = paths.read_json(paths.lab_dir(name) / "state.json") or {}
    network_up = state.get("phase") == "ready" and paths.pid_alive(state.get("supervisor_pid"))
    ctl = state.get("controller") or {}
    token = paths.lab_dir(name) / "rest.token"
    return {
        "name": session.name,
        "lab": lab.id,
        "number": lab.number,
        "title": lab.title.en,
        "workdir": session.workdir,
        "elapsed_min": round((now - session.started_at) / 60.0, 1),
        "hints_used": session.hints_used,
        "hints_total": len(lab.hints),
        "seed": session.seed,  # the variant (`lab start --seed`); None: the catalogue lab
        "reference_deployed": session.reference_deployed,
        "network_up": network_up,
        # where the trainee's app (or the builtin controller) listens: the REST port the lab texts
        # send curl to, and the token file every REST request must carry (docs/runtime.md)
        "controller": (
            {key: ctl[key] for key in ("mode", "host", "port", "rest_port") if key in ctl}
            if network_up and ctl
            else None
        ),
        "rest_token_file": str(token) if network_up and ctl.get("rest_port") else None,
        "lab_path": session.lab_path,
        "shared_workspace_with": sharing(Path(session.workdir), name),
        "time_spent_min": round((ProgressStore().time_spent(lab.id) + now - session.started_at) / 60.0, 1),
    }


def default_workdir(lab: Lab, name: str = DEFAULT_NAME) -> Path:
    """``~/.sdnlab/work/ID``; ``work/ID-NAME`` when another session already works there (its own copy)."""
    shared = sdnlab_home() / "work" / lab.id
    if name != DEFAULT_NAME and sharing(shared, name):
        return sdnlab_home() / "work" / f"{lab.id}-{name}"
    return shared


def sharing(workdir: Path, name: str) -> list[str]:
    """Other sessions whose workspace is ``workdir``."""
    others: list[str] = []
    if not sessions_dir().is_dir():
        return others
    for path in sorted(sessions_dir().glob("*.json")):
        if path.stem == name:
            continue
        try:
            other = current(path.stem)
        except LabSessionError:
            continue
        if Path(other.workdir).resolve() == Path(workdir).resolve():
            others.append(other.name)
    return others


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
    workdir = Path(workdir) if workdir else default_workdir(lab, name)
    if workdir.exists() and not workdir.is_dir():
        raise LabSessionError(
            f"--workdir {workdir}: exists and is not a folder; give a folder (new or a workspace)"
        )
    if fresh or not workdir.exists():
        workspace.copy_tree(lab.starter_dir, workdir)
    check_workspace(lab, workdir)
    status = live.up(lab, workdir, name)
    hints = ProgressStore().hints_used(lab.id)  # hints are the trainee's, across sessions
    variant = (
        json.loads((lab.path / "variant.json").read_text()) if (lab.path / "variant.json").is_file() else {}
    )
    session = Session(
        name,
        lab.id,
        str(workdir.resolve()),
        time.time(),
        hints,
        seed=variant.get("seed"),
        lab_path=str(lab.path),
    )
    _save(session)
    shared = sharing(workdir, name)
    if shared:
        status = dict(status, shared_workspace_with=shared)
    return session, status


def check_workspace(lab: Lab, workdir: Path) -> None:
    """Everything that would stop a deploy, found before the running lab is touched (``LabSessionError``)."""
    from sdnlab.errors import SdnlabError
    from sdnlab.runtime import api

    controller, config = live.controller_arg(lab, workdir)
    try:
        ctl = api.parse_controller(controller)
        if config:
            if not Path(config).is_file():
                raise LabSessionError(f"{config}: no such file (the lab's controller config)")
            ctl["config"] = config
        topology = live.load_topology(lab)
        api.check_controller(ctl, [h.name for h in topology.hosts()])
    except LabSessionError:
        raise
    except SdnlabError as exc:
        raise LabSessionError(str(exc)) from None
    if lab.controller.mode == "none":
        workspace.check_offline(workdir, topology)
    for vnf in lab.vnfs:
        if vnf.config and not (Path(workdir) / vnf.config).is_file():
            raise LabSessionError(f"{Path(workdir) / vnf.config}: no such file (VNF {vnf.name}'s config)")


def check(name: str = DEFAULT_NAME) -> LabResult:
    """Grade the public checks of session ``name`` (hidden ones are never run here): ``check_lab``."""
    session = current(name)
    return check_lab(session.load(), name, Path(session.workdir))


def check_lab(lab: Lab, name: str, workdir: Path, network: bool = True) -> LabResult:
    """Grade the public checks of ``lab`` running as ``name`` (workspace ``workdir``) as ``lab check`` does.

    A lab whose controller is the trainee's app is graded by replay (``labs.replay_check``: the
    workspace's app against simulated switches) when replay covers it; otherwise, and for other
    labs, on the live lab (``network=False``, where no lab runs: statically from the workspace's
    files). The result's ``checked_by`` says which for an app lab, and why not by replay (also
    as its first note). The one place this is decided: the CLI and the classroom call it.
    """
    from sdnlab.labs import replay_check
    from sdnlab.runtime import api

    started = time.time()
    reason = replay_check.replay_reason(lab)
    if reason is None:
        workdir = grading.deployed_workdir(lab, name) or Path(workdir)
        try:
            result = replay_check.grade_replay(lab, workdir, include_hidden=False)
        except replay_check.NotSimulated as exc:
            reason = f"your app uses what replay does not simulate ({exc})"
        else:
            changed = app_changed_note(lab, workdir, name)
            if changed and result.checked_by is not None:  # said with the replay's own notes
                count = result.checked_by.notes
                checked = replace(result.checked_by, app_changed=True, notes=count + len(changed))
                notes = (*result.notes[:count], *changed, *result.notes[count:])
                result = replace(result, notes=notes, checked_by=checked)
            return with_app_errors(result, name, started)  # what the running app raised meanwhile
    if network:
        with api.exclusive(name):
            result = grading.grade_live(lab, name, include_hidden=False)
    else:
        result = grading.grade_static(lab, Path(workdir), include_hidden=False)
    if lab.controller.mode == "app" and lab.controller.file:  # the trainee may expect replay: say why not
        why = f"graded {'live' if network else 'from the files'}, not by replay: {reason}"
        result = replace(
            result, notes=(why, *result.notes), checked_by=CheckedBy(False, reason=reason, notes=1)
        )
    return with_app_errors(result, name, started)


def app_changed_note(lab: Lab, workdir: Path, name: str) -> tuple[str, ...]:
    """A note when the app file changed after the lab's controller started (submit grades the running one)."""
    from sdnlab.errors import SdnlabError
    from sdnlab.runtime import api

    app = Path(workdir) / str(lab.controller.file)
    try:
        pid = api.status(name)["controller"]["pid"]
        controller_started = Path(f"/proc/{int(pid)}").stat().st_mtime
        changed = app.stat().st_mtime > controller_started
    except (OSError, KeyError, TypeError, ValueError, SdnlabError):
        return ()
    if not changed:
        return ()
    return (
        (
            f"{app.name} changed after your lab's controller started: check graded the file, submit "
            f"grades the running app; run `{command('reset', name)}` to run the new version"
        ),
    )


def with_app_errors(result: LabResult, name: str, since: float) -> LabResult:
    """The result with a note per failure of the lab's controller app during grading (its file and line)."""
    from sdnlab.runtime import app_errors, paths

    found = app_errors.lab_app_errors(paths.lab_dir(name), since)
    if not found:
        return result
    hint = f"(`{command('logs', name)}` shows the controller's log)"
    return replace(result, notes=(*result.notes, *found, hint))


def logs(name: str = DEFAULT_NAME, lines: int = 40) -> list[tuple[str, str]]:
    """The last ``lines`` lines of the session's logs: (title, text) for controller, app errors, VNFs."""
    from sdnlab.runtime import paths

    current(name)
    lab = paths.lab_dir(name)
    found = []
    candidates = [("controller", lab / "controller.log"), ("controller app errors", lab / "app-errors.jsonl")]
    candidates += [
        (f"VNF {d.name}", d / "stderr.log") for d in sorted((lab / "vnfs").glob("*")) if d.is_dir()
    ]
    candidates += [
        (f"VNF {d.name} events", d / "log.jsonl") for d in sorted((lab / "vnfs").glob("*")) if d.is_dir()
    ]
    candidates.append(("lab supervisor", lab / "supervisor.log"))
    for title, path in candidates:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        tail = text.splitlines()[-lines:]
        found.append((f"{title} ({path})", "\n".join(tail)))
    if not found:
        raise LabSessionError(f"no logs for session {name!r}: its network is not running")
    return found


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
    from sdnlab.runtime import api

    session = current(name)
    lab = session.load()
    started = time.time()
    with api.exclusive(name):
        result = with_app_errors(grading.grade_live(lab, name, include_hidden=True), name, started)
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


def reset(name: str = DEFAULT_NAME, starter: bool = False) -> tuple[Session, Path | None]:
    """Redeploy the workspace on the network; returns (session, backup folder or None).

    The workspace is checked before the running lab is touched, so a mistake leaves the network
    as it was. ``starter``: the workspace is first moved to a timestamped backup and replaced by
    the starter files. A network that is down (stopped, crashed, an interrupted reset) is
    brought back up.
    """
    from sdnlab.runtime import api

    session = current(name)
    lab = session.load()
    workdir = Path(session.workdir)
    backup = None
    with api.exclusive(name):
        if starter:
            backup = backup_workspace(workdir)
            workspace.copy_tree(lab.starter_dir, workdir)
        check_workspace(lab, workdir)
        redeploy(lab, workdir, name)
    return session, backup


def backup_workspace(workdir: Path, now: float | None = None) -> Path | None:
    """Copy a workspace to ``<workdir>.backup-YYYYMMDD-HHMMSS`` beside it; None when there is none."""
    import shutil

    workdir = Path(workdir)
    if not workdir.is_dir():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    target = workdir.with_name(f"{workdir.name}.backup-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = workdir.with_name(f"{workdir.name}.backup-{stamp}-{n}")
    try:
        shutil.copytree(workdir, target)
    except OSError as exc:
        raise LabSessionError(
            f"{target}: cannot back up your workspace ({exc.strerror or exc}); nothing was changed"
        ) from None
    return target


def network_up(name: str) -> bool:
    """Whether session ``name``'s network runs (a live supervisor with a ready lab)."""
    from sdnlab.runtime import paths

    state = paths.read_json(paths.lab_dir(name) / "state.json") or {}
    return state.get("phase") == "ready" and paths.pid_alive(state.get("supervisor_pid"))


def redeploy(lab: Lab, source: Path, name: str) -> None:
    """Put a workspace (the trainee's, or the solution) on the running lab."""
    from sdnlab.errors import LabError
    from sdnlab.runtime import api

    if not network_up(name):  # down, crashed or half-stopped: clear what is left, start afresh
        try:
            api.down(name)
        except LabError:
            pass
        live.up(lab, source, name)
        return
    if lab.controller.mode == "none":
        from sdnlab.runtime import links

        links.restore_links(name)  # links the trainee took down come back with a reset
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
    from sdnlab.runtime import api

    with api.exclusive(name):
        redeploy(lab, lab.solution_dir, name)
    return marked


def stop(name: str = DEFAULT_NAME) -> Session:
    """Take the session's network down and forget the session (the workspace stays)."""
    from sdnlab.errors import LabError
    from sdnlab.runtime import api

    try:
        session = current(name)
    except CorruptSession:
        session = Session(name, "(unreadable session)", "", time.time())
    try:
        api.down(name)
    except LabError:
        pass  # already down
    if session.workdir:  # a readable session: its time counts towards the lab
        ProgressStore().note_time(session.lab, max(0.0, time.time() - session.started_at))
    _path(name).unlink(missing_ok=True)
    return session
