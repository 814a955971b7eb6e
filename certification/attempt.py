"""Exam attempts: start (render each task's variant, copy starters, bring networks up), status,
check, hint, deploy, solve (reference run), and submit (grade everything, evidence bundle,
certificate). Time comes in as ``now`` so tests drive a fake clock.

An attempt lives in ``$SDNLAB_HOME/certification/attempts/<id>/``: ``attempt.json``, the
rendered task labs (``labs/``), the trainee's workspaces (``work/<n>-<lab>/``), and after submit
``evidence.zip`` and ``certificate.json``. ``current/<session>.json`` points at the running one.
Past the deadline every command first submits the attempt (``auto_submitted``), and a watcher
process started with the attempt submits it at the deadline, so the graded state is the state at
the time limit. A reference run (``solve``) is marked in the attempt, its evidence and its
certificate, never counts as an attempt and never as skill evidence.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from sdnlab.certification import paths, variants
from sdnlab.certification.errors import ExamError, ExamStateError
from sdnlab.certification.exam import Exam, Task, load_exam
from sdnlab.labs.model import Text

ATTEMPT = "attempt.json"
MODES = ("live", "offline")
MAX_EVIDENCE_FILE = 2 * 1024 * 1024


@dataclass
class Attempt:
    """The stored state of one exam attempt (``data`` is attempt.json)."""

    directory: Path
    data: dict

    @property
    def id(self) -> str:
        return self.data["id"]

    def exam(self) -> Exam:
        return load_exam(self.data["exam_file"])

    def task_lab(self, index: int):
        from sdnlab.labs.loader import load_lab

        return load_lab(self.directory / "labs" / self.data["tasks"][index]["lab"])

    def workdir(self, index: int) -> Path:
        return self.directory / self.data["tasks"][index]["workdir"]

    def runtime_name(self, index: int) -> str:
        return self.data["tasks"][index]["runtime"]

    def save(self) -> None:
        tmp = self.directory / (ATTEMPT + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True, ensure_ascii=False))
        os.replace(tmp, self.directory / ATTEMPT)


def attempts_dir() -> Path:
    return paths.home() / "attempts"


def _current_file(session: str) -> Path:
    from sdnlab.runtime.paths import check_name

    return paths.home() / "current" / f"{check_name(session)}.json"


def load(directory: Path) -> Attempt:
    try:
        data = json.loads((Path(directory) / ATTEMPT).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ExamError(f"{directory}: not a readable exam attempt ({exc})") from None
    return Attempt(Path(directory), data)


def current(session: str = "exam") -> Attempt:
    """The running (or just submitted) attempt of ``session``."""
    try:
        pointer = json.loads(_current_file(session).read_text())
    except FileNotFoundError:
        raise ExamStateError(f"no exam running in session {session!r}: `sdnlab exam start EXAM`") from None
    except ValueError:
        raise ExamError(f"{_current_file(session)}: corrupt; remove it") from None
    return load(attempts_dir() / pointer["attempt"])


def all_attempts() -> list[Attempt]:
    """Every stored attempt (oldest first)."""
    root = attempts_dir()
    found = [load(d) for d in sorted(root.iterdir()) if (d / ATTEMPT).is_file()] if root.is_dir() else []
    return sorted(found, key=lambda a: a.data.get("started_at", 0))


def _iso(moment: float) -> str:
    from sdnlab.certification.credential import now_iso

    return now_iso(moment)


# ---------------------------------------------------------------- start


def start(
    exam: Exam,
    trainee: str,
    now: float,
    session: str = "exam",
    seed: int | None = None,
    mode: str = "live",
    watch: bool = True,
) -> Attempt:
    """Begin an attempt: render every task's variant for the seed, copy starters, bring networks up (live)."""
    from sdnlab.labs import workspace
    from sdnlab.labs.loader import load_lab

    if mode not in MODES:
        raise ExamError(f"mode {mode!r}: expected live or offline")
    if not trainee.strip():
        raise ExamError("the trainee's name is empty: pass --trainee NAME")
    pointer = _current_file(session)
    if pointer.exists():
        running = current(session)
        if running.data["status"] == "running" and not _expired(running, now):
            raise ExamStateError(
                f"session {session!r} already runs exam {running.data['exam']}: submit it first"
            )
        settle(running, now)
    used = [
        a
        for a in all_attempts()
        if a.data["exam"] == exam.id and a.data["trainee"] == trainee and not a.data.get("reference_run")
    ]
    if len(used) >= exam.attempts:
        raise ExamError(f"{trainee} has used all {exam.attempts} attempt(s) of {exam.id}")
    if mode == "offline":
        for task in exam.tasks:
            lab = load_lab(task.lab_dir)
            if task.scenarios:
                raise ExamError(
                    f"task {task.index + 1} ({task.lab}) has scored scenarios: start without --offline"
                )
            if lab.controller.mode != "none" or lab.vnfs:
                raise ExamError(
                    f"task {task.index + 1} ({task.lab}) needs a live network: start without --offline"
                )
    seed = random.SystemRandom().randrange(1, 10**6) if seed is None else seed
    attempt_id = f"{exam.id}-{uuid.uuid4().hex[:10]}"
    directory = attempts_dir() / attempt_id
    directory.mkdir(parents=True, mode=0o700)
    tasks = []
    for task in exam.tasks:
        rendered = variants.render(task.lab_dir, seed, directory / "labs")
        lab = load_lab(rendered.path)
        workdir = f"work/{task.index + 1}-{task.lab}"
        workspace.copy_tree(lab.starter_dir, directory / workdir)
        tasks.append(
            {
                "index": task.index,
                "lab": task.lab,
                "values": rendered.values,
                "workdir": workdir,
                "runtime": f"{session[:18]}-{task.index + 1}",
                "hints_used": 0,
            }
        )
    data = {
        "id": attempt_id,
        "exam": exam.id,
        "exam_file": str(Path(exam.source).resolve()),
        "trainee": trainee,
        "session": session,
        "seed": seed,
        "mode": mode,
        "started_at": now,
        "deadline": now + exam.minutes * 60.0,
        "status": "running",
        "reference_run": False,
        "tasks": tasks,
    }
    attempt = Attempt(directory, data)
    attempt.save()
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text(json.dumps({"attempt": attempt_id}))
    if mode == "live":
        try:
            for index in range(len(tasks)):
                _up(attempt, index)
        except BaseException:
            _down_all(attempt)
            pointer.unlink(missing_ok=True)
            attempt.data["status"] = "aborted"
            attempt.save()
            raise
    if watch:
        _spawn_watcher(attempt)
    return attempt


def _up(attempt: Attempt, index: int) -> None:
    from sdnlab.labs import live

    live.up(attempt.task_lab(index), attempt.workdir(index), attempt.runtime_name(index))


def _down_all(attempt: Attempt) -> None:
    from sdnlab.errors import LabError
    from sdnlab.runtime import api

    if attempt.data["mode"] != "live":
        return
    for index in range(len(attempt.data["tasks"])):
        with contextlib.suppress(LabError):
            api.down(attempt.runtime_name(index))


def _spawn_watcher(attempt: Attempt) -> None:
    """A detached process that submits the attempt at its deadline."""
    log = open(attempt.directory / "watcher.log", "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(
        [sys.executable, "-m", "sdnlab.certification.watch", str(attempt.directory)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    attempt.data["watcher_pid"] = proc.pid
    attempt.save()


# ---------------------------------------------------------------- while running


def _expired(attempt: Attempt, now: float) -> bool:
    return now >= attempt.data["deadline"]


def settle(attempt: Attempt, now: float) -> Attempt:
    """Submit the attempt automatically if its time is up (no-op otherwise); returns it reloaded."""
    if attempt.data["status"] == "running" and _expired(attempt, now):
        return submit(attempt, now, auto=True)
    return attempt


def _running(attempt: Attempt, now: float) -> Attempt:
    attempt = settle(attempt, now)
    if attempt.data["status"] != "running":
        raise ExamStateError(
            f"the exam {attempt.data['exam']} has ended (time is up or it was submitted): "
            "`sdnlab exam status`"
        )
    return attempt


def _task_index(attempt: Attempt, task: int) -> int:
    if not 1 <= task <= len(attempt.data["tasks"]):
        raise ExamError(f"task {task}: the exam has tasks 1..{len(attempt.data['tasks'])}")
    return task - 1


def _selected(task: Task, items) -> list:
    """The task's checks: the listed lab checks (or all) and its scored scenarios."""
    scenario_ids = {s.id for s in task.scenarios}
    return [i for i in items if task.checks is None or i.id in task.checks or i.id in scenario_ids]


def status(attempt: Attempt, now: float) -> dict:
    """What the trainee may see: time left, tasks with their public checks (hidden ones only counted)."""
    attempt = settle(attempt, now)
    exam = attempt.exam()
    tasks = []
    for task, state in zip(exam.tasks, attempt.data["tasks"], strict=True):
        lab = attempt.task_lab(task.index)
        checks = [(b.id, b.description, b.hidden) for b in lab.behaviours] + [
            (p.id, p.description, p.hidden) for p in lab.probes + lab.scored
        ]
        chosen = [c for c in checks if task.checks is None or c[0] in task.checks]
        chosen += [(s.id, f"scored: {s.description}", s.hidden) for s in task.scenarios]
        tasks.append(
            {
                "task": task.index + 1,
                "lab": task.lab,
                "title": lab.title.en,
                "weight": task.weight,
                "workspace": str(attempt.workdir(task.index)),
                "public_checks": [f"{cid}: {text}" for cid, text, hidden in chosen if not hidden],
                "hidden_checks": sum(1 for c in chosen if c[2]),
                "hints_used": state["hints_used"],
            }
        )
    out = {
        "attempt": attempt.id,
        "exam": exam.id,
        "title": exam.title_en,
        "trainee": attempt.data["trainee"],
        "seed": attempt.data["seed"],
        "mode": attempt.data["mode"],
        "status": attempt.data["status"],
        "seconds_left": max(0.0, round(attempt.data["deadline"] - now, 1))
        if attempt.data["status"] == "running"
        else 0.0,
        "pass_percent": exam.pass_percent,
        "hints": {"allowed": exam.hints_allowed, "cost_percent": exam.hint_cost},
        "reference_run": attempt.data.get("reference_run", False),
        "tasks": tasks,
    }
    if attempt.data["status"] == "submitted":
        out["result"] = attempt.data["result"]
    return out


def _grade(attempt: Attempt, index: int, include_hidden: bool):
    """Grade one task on its network (live) or its workspace files (offline); unrun probes fail."""
    from sdnlab.labs import grading
    from sdnlab.labs.results import CheckItem, LabResult

    lab = attempt.task_lab(index)
    if attempt.data["mode"] == "live":
        from sdnlab.certification.scenarios import for_variant, scored_item
        from sdnlab.labs import live

        result = grading.grade_live(lab, attempt.runtime_name(index), include_hidden=include_hidden)
        values = attempt.data["tasks"][index]["values"]
        scenarios = [
            for_variant(s, values)
            for s in attempt.exam().tasks[index].scenarios
            if include_hidden or not s.hidden
        ]
        if not scenarios:
            return result
        topology = live.load_topology(lab)
        scored = tuple(scored_item(s, attempt.runtime_name(index), topology)[0] for s in scenarios)
        return LabResult(
            result.lab,
            result.items + scored,
            result.mode,
            result.elapsed_s,
            result.grader_version,
            result.notes,
        )
    result = grading.grade_static(lab, attempt.workdir(index), include_hidden=include_hidden)
    unrun = tuple(
        CheckItem(
            p.id,
            "scenario" if p in lab.scored else "probe",
            p.description,
            p.weight,
            0.0,
            p.hidden,
            1,
            0,
            ("not run: the exam runs offline",),
        )
        for p in lab.probes + lab.scored
        if include_hidden or not p.hidden
    )
    return LabResult(result.lab, result.items + unrun, "static", result.elapsed_s, result.grader_version, ())


def check(attempt: Attempt, task: int, now: float):
    """Grade one task's public checks (nothing recorded); returns the visible LabResult."""
    from sdnlab.labs.results import LabResult

    attempt = _running(attempt, now)
    index = _task_index(attempt, task)
    result = _grade(attempt, index, include_hidden=False)
    chosen = _selected(attempt.exam().tasks[index], result.items)
    return LabResult(
        result.lab, tuple(chosen), result.mode, result.elapsed_s, result.grader_version, result.notes
    ).visible()


def hint(attempt: Attempt, task: int, now: float) -> tuple[int, int, Text, float]:
    """The next hint of a task (index, total, text, cost so far); refused when the exam allows none."""
    attempt = _running(attempt, now)
    exam = attempt.exam()
    if not exam.hints_allowed:
        raise ExamError(f"exam {exam.id} allows no hints")
    index = _task_index(attempt, task)
    lab = attempt.task_lab(index)
    state = attempt.data["tasks"][index]
    if state["hints_used"] >= len(lab.hints):
        raise ExamError(f"no more hints for task {task} ({len(lab.hints)} used)")
    state["hints_used"] += 1
    attempt.save()
    used = sum(t["hints_used"] for t in attempt.data["tasks"])
    return state["hints_used"], len(lab.hints), lab.hints[state["hints_used"] - 1], used * exam.hint_cost


def deploy(attempt: Attempt, task: int, now: float) -> Path:
    """Put a task's workspace on its network (live); returns the workspace."""
    from sdnlab.labs.session import redeploy

    attempt = _running(attempt, now)
    index = _task_index(attempt, task)
    if attempt.data["mode"] == "live":
        redeploy(attempt.task_lab(index), attempt.workdir(index), attempt.runtime_name(index))
    return attempt.workdir(index)


def solve(attempt: Attempt, now: float) -> Attempt:
    """Instructor: put every task's reference solution (of this variant) in place; marks a reference run."""
    from sdnlab.labs import workspace

    attempt = _running(attempt, now)
    attempt.data["reference_run"] = True
    attempt.save()  # marked before deploying: a half-deployed reference still is the reference
    for index in range(len(attempt.data["tasks"])):
        workspace.copy_tree(attempt.task_lab(index).solution_dir, attempt.workdir(index))
        deploy(attempt, index + 1, now)
    return attempt


# ---------------------------------------------------------------- submit


@contextlib.contextmanager
def _locked(attempt: Attempt):
    with open(attempt.directory / "submit.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _dump_tables(attempt: Attempt, index: int) -> dict[str, bytes]:
    """Flow and group tables of every switch of a task (live: from OVS; offline: the flow files graded)."""
    from sdnlab.labs import live, workspace

    files: dict[str, bytes] = {}
    prefix = f"tasks/{index + 1}-{attempt.data['tasks'][index]['lab']}/tables"
    if attempt.data["mode"] == "live":
        from sdnlab.runtime import api

        for switch, bridge in live.bridges(api.status(attempt.runtime_name(index))).items():
            for what in ("dump-flows", "dump-groups"):
                proc = subprocess.run(
                    [*workspace.OFCTL, what, bridge],
                    capture_output=True,
                    text=True,
                    errors="replace",
                    timeout=30,
                )
                files[f"{prefix}/{switch}.{what.split('-')[1]}"] = (proc.stdout or proc.stderr).encode()
    else:
        for switch, entry in workspace.flow_files(attempt.workdir(index)).items():
            for kind, path in entry.items():
                files[f"{prefix}/{switch}.{kind}"] = path.read_bytes()
    return files


def _workspace_files(attempt: Attempt, index: int) -> dict[str, bytes]:
    root = attempt.workdir(index)
    prefix = f"tasks/{index + 1}-{attempt.data['tasks'][index]['lab']}/workspace"
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
            data = path.read_bytes()
            files[f"{prefix}/{path.relative_to(root).as_posix()}"] = data[:MAX_EVIDENCE_FILE]
    return files


def submit(attempt: Attempt, now: float, auto: bool = False) -> Attempt:
    """Grade every task (hidden checks too), write the evidence bundle and, if passed, the certificate."""
    from sdnlab.certification import bundle
    from sdnlab.certification.canonical import pretty
    from sdnlab.certification.evidence import (
        CheckSkills,
        lab_check_skills,
        outcomes_from_result,
        skill_levels,
    )
    from sdnlab.certification.framework import load_framework
    from sdnlab.labs.results import LabResult

    with _locked(attempt):
        attempt = load(attempt.directory)
        if attempt.data["status"] != "running":
            return attempt
        exam = attempt.exam()
        graded_at = now
        deadline = attempt.data["deadline"]
        files: dict[str, bytes] = {}
        outcomes = []
        task_results = []
        total_weight = sum(t.weight for t in exam.tasks)
        earned = 0.0
        for task in exam.tasks:
            index = task.index
            name = f"tasks/{index + 1}-{task.lab}"
            try:
                full = _grade(attempt, index, include_hidden=True)
                result = LabResult(
                    full.lab,
                    tuple(_selected(task, full.items)),
                    full.mode,
                    full.elapsed_s,
                    full.grader_version,
                    full.notes,
                )
                error = ""
            except (
                Exception
            ) as exc:  # a broken workspace or network scores 0 for the task, never aborts the exam
                from sdnlab.errors import SdnlabError

                if not isinstance(exc, SdnlabError):
                    raise
                result, error = LabResult(task.lab, (), attempt.data["mode"]), str(exc)
            percent = result.percent
            earned += task.weight * percent
            task_results.append(
                {
                    "task": index + 1,
                    "lab": task.lab,
                    "weight": task.weight,
                    "percent": percent,
                    "error": error,
                    "checks_passed": sum(i.passed for i in result.items),
                    "checks_total": len(result.items),
                }
            )
            files[f"{name}/report.json"] = pretty({**result.to_dict(), "error": error}).encode()
            files[f"{name}/variant.json"] = pretty(
                {"seed": attempt.data["seed"], "values": attempt.data["tasks"][index]["values"]}
            ).encode()
            files.update(_workspace_files(attempt, index))
            try:
                files.update(_dump_tables(attempt, index))
            except Exception as exc:  # a dead network still gets an evidence bundle, with the reason
                files[f"{name}/tables/ERROR.txt"] = f"tables not collected: {exc}\n".encode()
            skills = lab_check_skills(attempt.directory / "labs" / task.lab)
            for scenario in task.scenarios:
                skills[scenario.id] = CheckSkills(task.lab, scenario.id, dict(scenario.skills), exam.source)
            outcomes += outcomes_from_result(result, skills)
        hints_used = sum(t["hints_used"] for t in attempt.data["tasks"])
        raw_percent = round(earned / total_weight, 1) if total_weight else 0.0
        percent = round(max(0.0, raw_percent - hints_used * exam.hint_cost), 1)
        passed = percent >= exam.pass_percent
        framework = load_framework()
        levels = skill_levels(outcomes, framework)
        certified = {s: levels[s].level for s in exam.certifies if levels[s].level >= 1}
        summary = {
            "percent": percent,
            "raw_percent": raw_percent,
            "hints_used": hints_used,
            "hint_cost": exam.hint_cost,
            "pass_percent": exam.pass_percent,
            "passed": passed,
            "tasks": task_results,
            "skills": certified,
            "framework_version": framework.version,
            "outcomes": [vars(o) for o in outcomes],
        }
        facts = {
            "attempt": attempt.id,
            "exam": exam.id,
            "trainee": attempt.data["trainee"],
            "seed": attempt.data["seed"],
            "mode": attempt.data["mode"],
            "reference_run": attempt.data.get("reference_run", False),
            "started": _iso(attempt.data["started_at"]),
            "deadline": _iso(deadline),
            "graded": _iso(graded_at),
            "auto_submitted": auto,
            "late_by_s": round(max(0.0, graded_at - deadline), 1),
        }
        files["attempt.json"] = pretty({**facts, "tasks": attempt.data["tasks"], "result": summary}).encode()
        files["exam.yaml"] = Path(exam.source).read_bytes()
        info = bundle.write_bundle(attempt.directory / "evidence.zip", files, facts)
        attempt.data.update(
            status="submitted",
            submitted_at=graded_at,
            auto_submitted=auto,
            result=summary,
            evidence={
                "path": str(info.path),
                "manifest_sha256": info.manifest_sha256,
                "bundle_sha256": info.bundle_sha256,
            },
        )
        attempt.save()
        _down_all(attempt)
        if passed:
            try:
                issue(attempt, graded_at)
            except ExamError as exc:
                attempt.data["certificate_error"] = str(exc)
                attempt.save()
        return attempt


def issue(attempt: Attempt, now: float | None = None) -> Path:
    """Sign the certificate of a passed, submitted attempt with the issuer key (instructor or server)."""
    from sdnlab.certification import credential, keys
    from sdnlab.certification.errors import CertificationError
    from sdnlab.certification.framework import load_framework

    if attempt.data.get("status") != "submitted" or not attempt.data["result"]["passed"]:
        raise ExamError(f"attempt {attempt.id} is not a passed, submitted exam: no certificate")
    from sdnlab.certification.bundle import verify_bundle

    evidence = attempt.data["evidence"]
    verify_bundle(Path(evidence["path"]), evidence["manifest_sha256"], evidence["bundle_sha256"])
    try:
        key = keys.load_or_create()
    except CertificationError as exc:
        raise ExamError(
            f"certificate not issued: {exc}; an instructor can run `sdnlab exam issue {attempt.id}`"
        ) from None
    exam = attempt.exam()
    result = attempt.data["result"]
    framework = load_framework()
    facts = credential.CertificateFacts(
        trainee=attempt.data["trainee"],
        exam_id=exam.id,
        exam_title=exam.title_en,
        framework_version=result["framework_version"],
        skills=dict(result["skills"]),
        score_percent=result["percent"],
        pass_percent=exam.pass_percent,
        issued=credential.now_iso(now),
        attempt_id=attempt.id,
        seed=attempt.data["seed"],
        manifest_sha256=evidence["manifest_sha256"],
        bundle_sha256=evidence["bundle_sha256"],
        reference_run=bool(attempt.data.get("reference_run")),
        skill_names={s: framework.skills[s].title.en for s in result["skills"] if s in framework.skills},
    )
    path = attempt.directory / "certificate.json"
    credential.save(credential.build(facts, key, now), path)
    attempt.data["certificate"] = str(path)
    attempt.data.pop("certificate_error", None)
    attempt.save()
    return path


def exam_outcomes() -> list:
    """Graded checks of every submitted, non-reference attempt (skill evidence for the report)."""
    from sdnlab.certification.evidence import Outcome

    out = []
    for attempt in all_attempts():
        if attempt.data.get("status") != "submitted" or attempt.data.get("reference_run"):
            continue
        for raw in attempt.data["result"].get("outcomes", []):
            out.append(Outcome(**raw))
    return out


def finish_session(session: str) -> None:
    """Forget the session's pointer (the attempt stays)."""
    _current_file(session).unlink(missing_ok=True)


def copy_certificate(attempt: Attempt, target: Path) -> Path:
    """Copy the attempt's certificate to ``target``."""
    if "certificate" not in attempt.data:
        raise ExamError(attempt.data.get("certificate_error") or "no certificate (the exam was not passed)")
    shutil.copyfile(attempt.data["certificate"], target)
    return target
