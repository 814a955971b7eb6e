"""The trainee's skill report: each framework skill's level from graded checks (labs and exams).

Lab submissions recorded in ``progress.json`` carry their evidence per skill and level
(``skill_evidence``, no check ids); the best non-reference submission of each lab is used.
Older records without it count only when they scored 100% (every check passed). Exam attempts
add their own graded checks.
"""

from __future__ import annotations

from pathlib import Path

from sdnlab.certification.evidence import Outcome, SkillLevel, lab_check_skills, skill_levels
from sdnlab.certification.framework import Framework


def outcomes_from_progress(data: dict, lab_dirs: dict[str, Path]) -> list[Outcome]:
    """Outcomes of each lab's best own submission (reference runs are never evidence)."""
    outcomes: list[Outcome] = []
    for lab_id, entry in (data.get("labs") or {}).items():
        if lab_id not in lab_dirs:
            continue
        own = [
            r for r in entry.get("results", []) if isinstance(r, dict) and not r.get("solved_by_reference")
        ]
        if not own:
            continue
        best = max(own, key=lambda r: float(r.get("percent", 0.0)))
        skills = lab_check_skills(lab_dirs[lab_id])
        evidence = best.get("skill_evidence")
        if isinstance(evidence, dict):
            for skill, by_level in evidence.items():
                for level, entry in by_level.items() if isinstance(by_level, dict) else ():
                    if not (isinstance(entry, list) and len(entry) == 4 and str(level).isdigit()):
                        continue
                    score, weight, passed, count = entry
                    outcomes.append(
                        Outcome(
                            lab_id,
                            f"{skill}@{level}",
                            float(weight),
                            float(score),
                            {skill: int(level)},
                            int(count),
                            int(passed),
                        )
                    )
        elif float(best.get("percent", 0.0)) >= 100.0:
            outcomes += [Outcome(lab_id, c, 1.0, 1.0, dict(s.skills)) for c, s in skills.items()]
    return outcomes


def report_dict(levels: dict[str, SkillLevel], framework: Framework, lang: str = "en") -> dict:
    """JSON-ready report grouped by area."""
    areas = []
    for area in framework.areas:
        rows = []
        for skill in area.skills:
            got = levels[skill.id]
            rows.append(
                {
                    "skill": skill.id,
                    "title": skill.title.ja if lang == "ja" else skill.title.en,
                    "level": got.level,
                    "level_name": framework.level_name(got.level, lang),
                    "criterion": skill.criteria.get(got.level, ""),
                    "checks_passed": got.checks_passed,
                    "checks_total": got.checks_total,
                    "share_by_level": {str(k): v for k, v in got.share_by_level.items()},
                }
            )
        areas.append(
            {"area": area.id, "title": area.title.ja if lang == "ja" else area.title.en, "skills": rows}
        )
    return {"framework": framework.version, "areas": areas}


def trainee_report(
    framework: Framework, progress: dict, extra: tuple[Outcome, ...] = (), lang: str = "en"
) -> dict:
    """The skill report of ``progress`` (labs) plus ``extra`` outcomes (exams)."""
    from sdnlab.labs.loader import lab_dirs

    dirs = {d.name: d for d in lab_dirs()}
    outcomes = outcomes_from_progress(progress, dirs) + list(extra)
    return report_dict(skill_levels(outcomes, framework), framework, lang)
