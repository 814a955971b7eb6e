"""Exam files: ``exams/<id>.yaml`` validated into an ``Exam`` (every problem at once, ``file:line: field``).

An exam has a title (en, ja), tasks (a lab, optionally only some of its checks, with a weight), a
time limit in minutes, a pass mark in percent, a hint policy (allowed, and the points each hint
costs), the attempts a trainee may make, and the framework skills it certifies (each must be
evidenced by at least one of its checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sdnlab import instructor, textfile
from sdnlab.certification.errors import ExamError
from sdnlab.certification.paths import exams_dir
from sdnlab.yamlsrc import Where, YamlSyntaxError, line_of, load_yaml

ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
TOP = {"id", "title", "minutes", "pass_percent", "attempts", "hints", "certifies", "tasks"}


@dataclass(frozen=True)
class Task:
    """One exam task: a lab (all its checks, or the ones listed) and its weight in the exam."""

    index: int
    lab: str
    weight: float
    checks: tuple[str, ...] | None
    lab_dir: Path
    scenarios: tuple = ()  # sdnlab.certification.scenarios.Scenario: scored measurements (live)


@dataclass(frozen=True)
class Exam:
    """A validated exam."""

    id: str
    title_en: str
    title_ja: str
    minutes: float
    pass_percent: float
    attempts: int
    hints_allowed: bool
    hint_cost: float  # exam percentage points per hint
    certifies: tuple[str, ...]
    tasks: tuple[Task, ...]
    source: str

    def title(self, lang: str = "en") -> str:
        return self.title_ja if lang == "ja" else self.title_en


def _number(value, low: float, high: float | None = None) -> bool:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= low
    return ok and (high is None or value <= high)


def parse_exam(data, source: str, framework=None) -> Exam:
    """Validate loaded exam YAML (``framework``: a loaded skill framework, default the shipped one)."""
    from sdnlab.certification.evidence import lab_check_skills
    from sdnlab.certification.framework import load_framework
    from sdnlab.certification.scenarios import parse as parse_scenario
    from sdnlab.errors import SdnlabError
    from sdnlab.labs.loader import find_lab_dir

    framework = framework or load_framework()
    problems: list[str] = []

    def bad(container, key, field: str, problem: str) -> None:
        problems.append(f"{Where(source, line_of(container, key))}: {field}: {problem}")

    if not isinstance(data, dict):
        raise ExamError(f"{source}: expected a mapping ({', '.join(sorted(TOP))})")
    for key in sorted(set(data) - TOP, key=str):
        bad(data, key, str(key), f"unknown key (expected some of: {', '.join(sorted(TOP))})")
    exam_id = data.get("id")
    if not isinstance(exam_id, str) or not ID.match(exam_id):
        bad(data, "id", "id", "expected lower-case letters, digits and '_'")
        exam_id = ""
    title = data.get("title")
    if not isinstance(title, dict) or not all(
        isinstance(title.get(k), str) and title.get(k) for k in ("en", "ja")
    ):
        bad(data, "title", "title", "expected {en: TEXT, ja: TEXT}")
        title = {"en": "", "ja": ""}
    minutes = data.get("minutes")
    if not _number(minutes, 0.1, 600):
        bad(data, "minutes", "minutes", f"expected the time limit in minutes, 0.1..600 (got {minutes!r})")
        minutes = 0
    pass_percent = data.get("pass_percent")
    if not _number(pass_percent, 1, 100):
        bad(data, "pass_percent", "pass_percent", f"expected a pass mark 1..100 (got {pass_percent!r})")
        pass_percent = 100
    attempts = data.get("attempts", 1)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        bad(data, "attempts", "attempts", f"expected a whole number >= 1 (got {attempts!r})")
        attempts = 1
    hints = data.get("hints", {"allowed": False})
    allowed, cost = False, 0.0
    if (
        not isinstance(hints, dict)
        or set(hints) - {"allowed", "cost_percent"}
        or not isinstance(hints.get("allowed"), bool)
    ):
        bad(data, "hints", "hints", "expected {allowed: true|false, cost_percent: N}")
    else:
        allowed = hints["allowed"]
        cost = hints.get("cost_percent", 0)
        if not _number(cost, 0, 100):
            bad(
                hints, "cost_percent", "hints.cost_percent", f"expected 0..100 points per hint (got {cost!r})"
            )
            cost = 0.0
    tasks: list[Task] = []
    evidenced: set[str] = set()
    raw_tasks = data.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        bad(data, "tasks", "tasks", "expected a list of {lab, weight, checks}")
        raw_tasks = []
    for i, raw in enumerate(raw_tasks):
        field = f"tasks[{i}]"
        if not isinstance(raw, dict):
            bad(raw_tasks, i, field, "expected a mapping {lab, weight, checks}")
            continue
        for key in sorted(set(raw) - {"lab", "weight", "checks", "scenarios"}, key=str):
            bad(raw, key, f"{field}.{key}", "unknown key (expected lab, weight, checks, scenarios)")
        lab = raw.get("lab")
        try:
            lab_dir = (
                find_lab_dir(str(lab)) if isinstance(lab, (str, int)) and not isinstance(lab, bool) else None
            )
        except SdnlabError:
            lab_dir = None
        if lab_dir is None:
            bad(raw, "lab", f"{field}.lab", f"no lab {lab!r} in the catalogue")
            continue
        weight = raw.get("weight", 1)
        if not _number(weight, 0) or weight <= 0:
            bad(raw, "weight", f"{field}.weight", f"expected a positive number (got {weight!r})")
            weight = 1
        known = lab_check_skills(lab_dir)
        checks = raw.get("checks")
        if checks is not None:
            if not isinstance(checks, list) or not checks or not all(isinstance(c, str) for c in checks):
                bad(raw, "checks", f"{field}.checks", "expected a list of check ids of the lab")
                checks = None
            else:
                for j, check in enumerate(checks):
                    if check not in known:
                        why = f"lab {lab_dir.name} has no check {check!r}"
                        if instructor.lab_part(lab_dir) is None:
                            why += f" ({instructor.NOT_AVAILABLE})"
                        bad(checks, j, f"{field}.checks[{j}]", why)
                if len(set(checks)) != len(checks):
                    bad(raw, "checks", f"{field}.checks", "a check is listed twice")
                for j, check in enumerate(checks):
                    for required in known[check].requires if check in known else ():
                        if required not in checks:
                            bad(
                                checks,
                                j,
                                f"{field}.checks[{j}]",
                                f"{check!r} of lab {lab_dir.name} requires {required!r} (it earns its "
                                f"points only together with it), which the task does not select",
                            )
        selected = [c for c in (checks or known) if c in known]
        for check in selected:
            evidenced |= set(known[check].skills)
        scenarios = []
        raw_scenarios = raw.get("scenarios") or []
        if not isinstance(raw_scenarios, list):
            bad(raw, "scenarios", f"{field}.scenarios", "expected a list of scored scenarios")
            raw_scenarios = []
        for j, item in enumerate(raw_scenarios):
            scenario = parse_scenario(item, f"{field}.scenarios[{j}]", bad)
            if scenario is None:
                continue
            if scenario.id in known:
                bad(
                    item, "id", f"{field}.scenarios[{j}].id", f"{scenario.id!r} is already a check of the lab"
                )
            for skill, level in scenario.skills.items():
                why = framework.problem(skill, level)
                if why:
                    bad(item, "skills", f"{field}.scenarios[{j}].skills.{skill}", why)
            evidenced |= set(scenario.skills)
            scenarios.append(scenario)
        tasks.append(
            Task(i, lab_dir.name, float(weight), tuple(checks) if checks else None, lab_dir, tuple(scenarios))
        )
    certifies = data.get("certifies")
    if not isinstance(certifies, list) or not certifies:
        bad(data, "certifies", "certifies", "expected a list of framework skill ids")
        certifies = []
    for j, skill in enumerate(certifies):
        if skill not in framework.skills:
            bad(certifies, j, f"certifies[{j}]", f"unknown skill {skill!r} (framework {framework.version})")
        elif tasks and skill not in evidenced:
            bad(certifies, j, f"certifies[{j}]", f"no task check evidences {skill}")
    if problems:
        raise ExamError(
            problems[0] if len(problems) == 1 else f"{len(problems)} problems:\n  " + "\n  ".join(problems)
        )
    return Exam(
        exam_id,
        title["en"],
        title["ja"],
        float(minutes or 0),
        float(pass_percent or 100),
        attempts,
        allowed,
        float(cost),
        tuple(certifies),
        tuple(tasks),
        source,
    )


def load_exam(ref: str | Path) -> Exam:
    """An exam by catalogue id or file path."""
    path = Path(ref)
    if not path.is_file():
        path = exams_dir() / f"{ref}.yaml"
        if not path.is_file():
            known = ", ".join(p.stem for p in sorted(exams_dir().glob("*.yaml"))) or "none"
            raise ExamError(f"no exam {str(ref)!r} (exams: {known})")
    text = textfile.read_text(path, ExamError)
    try:
        data = load_yaml(text, str(path))
    except YamlSyntaxError as exc:
        raise ExamError(str(exc)) from None
    exam = parse_exam(data, str(path))
    if path.parent == exams_dir() and exam.id != path.stem:
        raise ExamError(
            f"{Where(str(path), line_of(data, 'id'))}: id: {exam.id!r} differs from the file name "
            f"{path.stem!r}"
        )
    return exam


def catalogue() -> list[Exam]:
    """Every exam in the catalogue folder, validated."""
    return [load_exam(p) for p in sorted(exams_dir().glob("*.yaml"))]
