"""The trainee's progress: submitted results, hints used, and the skill report.

Stored as JSON in ``$SDNLAB_HOME/progress.json`` (default ``~/.sdnlab``). Every update takes an
exclusive ``fcntl`` lock on ``progress.json.lock``, re-reads the file, changes it and writes it
atomically (temporary file + ``os.replace``), so concurrent ``sdnlab`` commands never lose a
record and readers never see half a file. A file whose structure is wrong is reported with the
field at fault (``progress.json: labs.x.results: expected a list``) and never overwritten.

Submissions made after ``sdnlab lab solve`` in the same session carry ``solved_by_reference``:
they are kept and counted apart (``reference_runs``), never as the trainee's score. The skill
report is a pure function of the records and the catalogue (``skill_report``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from sdnlab.labs.errors import ProgressError
from sdnlab.labs.model import SKILLS

FORMAT_VERSION = 1


def sdnlab_home() -> Path:
    """``$SDNLAB_HOME`` or ``~/.sdnlab``."""
    return Path(os.environ.get("SDNLAB_HOME") or Path.home() / ".sdnlab")


class ProgressStore:
    """Read and update ``progress.json`` under a file lock."""

    def __init__(self, home: Path | None = None):
        self.home = Path(home) if home else sdnlab_home()
        self.path = self.home / "progress.json"

    @contextlib.contextmanager
    def _locked(self):
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "progress.json.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": FORMAT_VERSION, "labs": {}}
        except (OSError, ValueError) as exc:
            raise ProgressError(
                f"{self.path}: unreadable progress file ({exc}); move it away to start afresh"
            ) from None
        problems = structure_problems(data)
        if problems:
            raise ProgressError(
                f"{self.path}: not a valid sdnlab progress file ({'; '.join(problems[:3])}); "
                f"fix or move it away to start afresh"
            )
        return data

    def _write(self, data: dict) -> None:
        from sdnlab.jsonio import write_atomic

        write_atomic(self.path, data, fsync=True, mode=0o600)

    def update(self, change) -> dict:
        """Apply ``change(data)`` to the stored data under the lock; returns the new data."""
        with self._locked():
            data = self._read()
            change(data)
            self._write(data)
            return data

    def load(self) -> dict:
        with self._locked():
            return self._read()

    def add_result(self, record: dict) -> dict:
        """Append a submitted result (``record["lab"]`` names the lab)."""

        def change(data):
            entry = data["labs"].setdefault(record["lab"], {"results": [], "hints_used": 0})
            entry["results"].append(record)
            entry["hints_used"] = max(entry.get("hints_used", 0), record.get("hints_used", 0))

        return self.update(change)

    def hints_used(self, lab_id: str) -> int:
        """Hints the trainee has seen for a lab in any session (0 when the file is unreadable)."""
        try:
            entry = self.load()["labs"].get(lab_id) or {}
        except ProgressError:
            return 0
        return int(entry.get("hints_used", 0))

    def time_spent(self, lab_id: str) -> float:
        """Seconds spent in earlier (stopped) sessions of a lab (0 when the file is unreadable)."""
        try:
            entry = self.load()["labs"].get(lab_id) or {}
        except ProgressError:
            return 0.0
        value = entry.get("time_spent_s", 0.0)
        return float(value) if _number(value) else 0.0

    def note_time(self, lab_id: str, seconds: float) -> None:
        """Add a stopped session's duration to the lab's total (skipped when the file is unreadable)."""

        def change(data):
            entry = data["labs"].setdefault(lab_id, {"results": [], "hints_used": 0})
            spent = entry.get("time_spent_s", 0.0)
            entry["time_spent_s"] = round((spent if _number(spent) else 0.0) + seconds, 1)

        try:
            self.update(change)
        except ProgressError:
            pass

    def note_hint(self, lab_id: str, used: int) -> None:
        def change(data):
            entry = data["labs"].setdefault(lab_id, {"results": [], "hints_used": 0})
            entry["hints_used"] = max(entry.get("hints_used", 0), used)

        self.update(change)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def structure_problems(data) -> list[str]:
    """What is wrong with loaded progress data, as ``field: problem`` (empty when it is usable)."""
    if not isinstance(data, dict) or not isinstance(data.get("labs"), dict):
        return ["labs: expected a mapping of lab id to results"]
    problems = []
    for lab_id, entry in data["labs"].items():
        where = f"labs.{lab_id}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping with results and hints_used")
            continue
        if not _number(entry.get("hints_used", 0)):
            problems.append(f"{where}.hints_used: expected a number")
        results = entry.get("results", [])
        if not isinstance(results, list):
            problems.append(f"{where}.results: expected a list")
            continue
        for i, record in enumerate(results):
            if not isinstance(record, dict) or not _number(record.get("percent", 0.0)):
                problems.append(f"{where}.results[{i}]: expected a record with a numeric percent")
    return problems


@dataclass(frozen=True)
class LabProgress:
    lab: str
    attempts: int
    best_percent: float
    last_percent: float
    hints_used: int
    done: bool
    reference_runs: int = 0  # submissions made after `sdnlab lab solve` (not counted above)


def is_reference_run(record: dict) -> bool:
    """True for a submission made after the reference solution was deployed in its session."""
    return bool(record.get("solved_by_reference"))


def lab_progress(data: dict) -> dict[str, LabProgress]:
    """Per lab: the trainee's attempts, best and last score, hints, done (a 100% submission).

    Submissions solved by the reference are counted in ``reference_runs`` only.
    """
    out = {}
    for lab_id, entry in data.get("labs", {}).items():
        records = entry.get("results", [])
        own = [r for r in records if not is_reference_run(r)]
        percents = [float(r.get("percent", 0.0)) for r in own]
        out[lab_id] = LabProgress(
            lab_id,
            len(own),
            max(percents, default=0.0),
            percents[-1] if percents else 0.0,
            int(entry.get("hints_used", 0)),
            any(p >= 100.0 for p in percents),
            len(records) - len(own),
        )
    return out


def skill_report(data: dict, labs) -> dict[str, dict]:
    """Per skill: the catalogue-weighted best scores, as a percentage of everything the catalogue teaches.

    A lab with ``skills: {network: 3, security: 2}`` contributes 3x its best score to network and
    2x to security; hints do not reduce the score (they are reported separately).
    """
    progress = lab_progress(data)
    report = {}
    for skill in SKILLS:
        total = earned = 0.0
        labs_done = []
        for lab in labs:
            weight = lab.skills.get(skill, 0)
            if not weight:
                continue
            total += weight * 100.0
            best = progress[lab.id].best_percent if lab.id in progress else 0.0
            earned += weight * best
            if lab.id in progress and progress[lab.id].done:
                labs_done.append(lab.id)
        percent = round(100.0 * earned / total, 1) if total else 0.0
        report[skill] = {
            "percent": percent,
            "level": skill_level(percent),
            "labs_done": labs_done,
            "labs_total": sum(1 for lab in labs if lab.skills.get(skill)),
        }
    return report


def skill_level(percent: float) -> str:
    """A word for a skill percentage."""
    if percent >= 85:
        return "proficient"
    if percent >= 50:
        return "practising"
    if percent > 0:
        return "beginning"
    return "not started"
