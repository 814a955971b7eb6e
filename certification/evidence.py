"""Which skills a lab's checks evidence, and the level a trainee reached from graded checks.

A check (behaviour, probe or scored scenario) in ``lab.yaml`` carries ``skills: {SKILL_ID: LEVEL}``. The level
of a skill is derived from outcomes only, never from lab titles: a check at level L is evidence
for levels 1..L; level L is *demonstrated* when the checks evidencing it (level >= L) scored at
least ``PASS_SHARE`` of their weight, and the skill's level is the highest L demonstrated with
every lower level demonstrated too (0: not shown yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sdnlab import textfile
from sdnlab.certification.errors import CertificationError
from sdnlab.certification.framework import Framework
from sdnlab.yamlsrc import Where, YamlSyntaxError, line_of, load_yaml

PASS_SHARE = 0.8
CHECK_LISTS = ("behaviours", "probes", "scored")


@dataclass(frozen=True)
class CheckSkills:
    """The skills one lab check evidences, with where it is declared."""

    lab: str
    check: str
    skills: dict[str, int]
    where: str
    requires: tuple[str, ...] = ()  # checks this one earns its points only together with


def lab_check_skills(lab_dir: Path) -> dict[str, CheckSkills]:
    """check id -> the skills it names, from ``lab_dir/lab.yaml`` and, where this machine has the
    lab's instructor data, its ``hidden.yaml`` (a check without ``skills:`` maps to {})."""
    from sdnlab import instructor

    out: dict[str, CheckSkills] = {}
    lab_id = Path(lab_dir).name
    part = instructor.lab_part(Path(lab_dir))
    sources = [Path(lab_dir) / "lab.yaml"]
    if part is not None and (part / instructor.HIDDEN).is_file():
        sources.append(part / instructor.HIDDEN)
    for source in sources:
        text = textfile.read_text(source, CertificationError)
        try:
            data = load_yaml(text, str(source))
        except YamlSyntaxError as exc:
            raise CertificationError(str(exc)) from None
        if isinstance(data, dict) and source.name == "lab.yaml":
            lab_id = str(data.get("id", lab_id))
        for key in CHECK_LISTS:
            items = data.get(key) if isinstance(data, dict) else None
            for i, item in enumerate(items if isinstance(items, list) else ()):
                if not isinstance(item, dict):
                    continue
                check_id = str(item.get("id") or f"{key}-{i}")
                raw = item.get("skills")
                skills = {str(k): v for k, v in raw.items()} if isinstance(raw, dict) else {}
                required = item.get("requires")
                requires = tuple(
                    str(r)
                    for r in (required if isinstance(required, list) else [required] if required else [])
                )
                out[check_id] = CheckSkills(
                    lab_id, check_id, skills, str(Where(str(source), line_of(item, "skills"))), requires
                )
    return out


def check_skill_problems(lab_dir: Path, framework: Framework) -> list[str]:
    """Every check names known skills at declared levels; else one problem per fault.

    A lab none of whose checks names a skill is not part of the certification and passes; once
    one check names skills, every check must.
    """
    problems = []
    entries = lab_check_skills(lab_dir).values()
    certified = any(entry.skills for entry in entries)
    for entry in entries:
        if not entry.skills and certified:
            problems.append(
                f"{entry.where}: check {entry.check!r}: names no skill (add skills: {{SKILL_ID: LEVEL}})"
            )
        for skill, level in entry.skills.items():
            why = (
                framework.problem(skill, level)
                if isinstance(level, int)
                else f"level {level!r} is not a number"
            )
            if why:
                problems.append(f"{entry.where}: check {entry.check!r}: skills.{skill}: {why}")
    return problems


@dataclass(frozen=True)
class Outcome:
    """One graded check: the share of its weight earned, and the skills it evidences."""

    lab: str
    check: str
    weight: float
    score: float
    skills: dict[str, int]
    checks: int = 1  # checks this outcome stands for (aggregated lab evidence)
    passed: int | None = None  # of them, passed in full (None: score == weight)

    @property
    def passed_checks(self) -> int:
        if self.passed is not None:
            return self.passed
        return 1 if self.weight and self.score >= self.weight else 0


def skill_evidence(lab_dir: Path, result) -> dict[str, dict[str, list[float]]]:
    """A graded lab's evidence per skill and level: ``{skill: {level: [score, weight, passed, checks]}}``.

    Stored with each lab submission; it names no check, so hidden checks stay hidden.
    """
    try:
        named = lab_check_skills(lab_dir)
    except CertificationError:
        return {}
    out: dict[str, dict[str, list[float]]] = {}
    for item in result.items:
        for skill, level in (named[item.id].skills if item.id in named else {}).items():
            entry = out.setdefault(skill, {}).setdefault(str(level), [0.0, 0.0, 0, 0])
            entry[0] = round(entry[0] + item.score, 4)
            entry[1] = round(entry[1] + item.weight, 4)
            entry[2] += 1 if item.passed else 0
            entry[3] += 1
    return out


def outcomes_from_result(result, skills: dict[str, CheckSkills]) -> list[Outcome]:
    """A ``LabResult``'s items as outcomes carrying the skills their lab.yaml declares."""
    out = []
    for item in result.items:
        named = skills.get(item.id)
        out.append(Outcome(result.lab, item.id, item.weight, item.score, dict(named.skills) if named else {}))
    return out


@dataclass(frozen=True)
class SkillLevel:
    """What the evidence shows for one skill."""

    skill: str
    level: int
    checks_passed: int
    checks_total: int
    share_by_level: dict[int, float]


def skill_levels(outcomes: list[Outcome], framework: Framework) -> dict[str, SkillLevel]:
    """Per framework skill: the level the outcomes demonstrate (see the module docstring)."""
    report = {}
    for skill_id in framework.skills:
        relevant = [(o, o.skills[skill_id]) for o in outcomes if skill_id in o.skills]
        shares: dict[int, float] = {}
        level = 0
        for wanted in sorted(framework.levels):
            evidence = [o for o, lvl in relevant if lvl >= wanted]
            weight = sum(o.weight for o in evidence)
            if not weight:
                break
            shares[wanted] = round(sum(o.score for o in evidence) / weight, 3)
            if shares[wanted] < PASS_SHARE:
                break
            level = wanted
        passed = sum(o.passed_checks for o, _ in relevant)
        report[skill_id] = SkillLevel(skill_id, level, passed, sum(o.checks for o, _ in relevant), shares)
    return report


def lab_skill_problems(lab_dir: Path) -> list[str]:
    """What ``sdnlab lab validate`` reports about a lab's check skills (framework problems included)."""
    from sdnlab.certification.framework import load_framework
    from sdnlab.errors import SdnlabError

    try:
        return check_skill_problems(lab_dir, load_framework())
    except SdnlabError as exc:
        return [str(exc)]


def lab_problems(lab_dir: Path) -> list[str]:
    """Everything ``sdnlab lab validate`` asks of certification: known check skills, sound variants."""
    import tempfile

    from sdnlab.certification.variants import variant_problems

    with tempfile.TemporaryDirectory(prefix="sdnlab-variants-") as scratch:
        return lab_skill_problems(lab_dir) + variant_problems(lab_dir, Path(scratch))
