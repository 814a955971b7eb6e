"""The skill framework: ``skills/framework.yaml`` validated into typed areas, skills and levels.

Every problem is reported at once as ``file:line: field: problem``. Skill ids are
``AREA.NAME``; levels are whole numbers declared once at the top (1 foundation ...), and every
skill gives an observable criterion for each of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sdnlab import textfile
from sdnlab.certification.errors import FrameworkError
from sdnlab.certification.paths import framework_file
from sdnlab.yamlsrc import Where, YamlSyntaxError, line_of, load_yaml

SKILL_ID = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
AREA_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Title:
    """A name in English and Japanese."""

    en: str
    ja: str


@dataclass(frozen=True)
class Skill:
    """One certifiable skill with an observable criterion per level."""

    id: str
    area: str
    title: Title
    criteria: dict[int, str]


@dataclass(frozen=True)
class Area:
    """A group of skills (networking and OpenFlow, security, ...)."""

    id: str
    title: Title
    skills: tuple[Skill, ...]


@dataclass(frozen=True)
class Framework:
    """A version of the skill framework."""

    version: str
    levels: dict[int, Title]
    areas: tuple[Area, ...]
    source: str = ""

    @property
    def skills(self) -> dict[str, Skill]:
        return {s.id: s for a in self.areas for s in a.skills}

    def level_name(self, level: int, lang: str = "en") -> str:
        title = self.levels.get(level)
        return "none" if title is None else (title.ja if lang == "ja" else title.en)

    def problem(self, skill: str, level: int) -> str | None:
        """Why ``skill`` at ``level`` is not in the framework, or None."""
        if skill not in self.skills:
            return f"unknown skill {skill!r} (framework {self.version})"
        if level not in self.levels:
            return f"unknown level {level} for {skill} (levels: {', '.join(map(str, sorted(self.levels)))})"
        return None


class _Errors:
    def __init__(self, source: str):
        self.source = source
        self.items: list[str] = []

    def add(self, container, key, field: str, problem: str) -> None:
        self.items.append(f"{Where(self.source, line_of(container, key))}: {field}: {problem}")


def _title(raw, container, key, field: str, errors: _Errors) -> Title:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) and raw.get(k) for k in ("en", "ja")):
        errors.add(container, key, field, "expected {en: TEXT, ja: TEXT}")
        return Title("", "")
    return Title(raw["en"], raw["ja"])


def parse_framework(data, source: str) -> Framework:
    """Validate loaded framework YAML into a ``Framework`` (every problem at once)."""
    errors = _Errors(source)
    if not isinstance(data, dict):
        raise FrameworkError(f"{source}: expected a mapping with version, levels and areas")
    for key in sorted(set(data) - {"version", "levels", "areas"}, key=str):
        errors.add(data, key, str(key), "unknown key (expected version, levels, areas)")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        errors.add(data, "version", "version", 'expected a version string such as "1.0"')
        version = ""
    levels: dict[int, Title] = {}
    raw_levels = data.get("levels")
    if not isinstance(raw_levels, dict) or not raw_levels:
        errors.add(data, "levels", "levels", "expected a mapping of level number to {en, ja} names")
    else:
        for number, title in raw_levels.items():
            if not isinstance(number, int) or isinstance(number, bool) or number < 1:
                errors.add(raw_levels, number, f"levels.{number}", "expected a level number 1, 2, ...")
                continue
            levels[number] = _title(title, raw_levels, number, f"levels.{number}", errors)
    areas = []
    seen: set[str] = set()
    raw_areas = data.get("areas")
    if not isinstance(raw_areas, list) or not raw_areas:
        errors.add(data, "areas", "areas", "expected a list of skill areas")
        raw_areas = []
    for i, area in enumerate(raw_areas):
        field = f"areas[{i}]"
        if not isinstance(area, dict):
            errors.add(raw_areas, i, field, "expected a mapping with id, title, skills")
            continue
        for key in sorted(set(area) - {"id", "title", "skills"}, key=str):
            errors.add(area, key, f"{field}.{key}", "unknown key (expected id, title, skills)")
        area_id = area.get("id")
        if not isinstance(area_id, str) or not AREA_ID.match(area_id):
            errors.add(area, "id", f"{field}.id", "expected a lower-case identifier")
            area_id = ""
        title = _title(area.get("title"), area, "title", f"{field}.title", errors)
        skills = []
        raw_skills = area.get("skills")
        if not isinstance(raw_skills, list) or not raw_skills:
            errors.add(area, "skills", f"{field}.skills", "expected a list of skills")
            raw_skills = []
        for j, skill in enumerate(raw_skills):
            sfield = f"{field}.skills[{j}]"
            if not isinstance(skill, dict):
                errors.add(raw_skills, j, sfield, "expected a mapping with id, title, levels")
                continue
            for key in sorted(set(skill) - {"id", "title", "levels"}, key=str):
                errors.add(skill, key, f"{sfield}.{key}", "unknown key (expected id, title, levels)")
            skill_id = skill.get("id")
            if not isinstance(skill_id, str) or not SKILL_ID.match(skill_id):
                errors.add(skill, "id", f"{sfield}.id", "expected AREA.NAME in lower case")
                continue
            if area_id and not skill_id.startswith(area_id + "."):
                errors.add(skill, "id", f"{sfield}.id", f"{skill_id!r} must start with its area {area_id!r}.")
            if skill_id in seen:
                errors.add(skill, "id", f"{sfield}.id", f"duplicate skill {skill_id!r}")
            seen.add(skill_id)
            stitle = _title(skill.get("title"), skill, "title", f"{sfield}.title", errors)
            criteria: dict[int, str] = {}
            raw_criteria = skill.get("levels")
            if not isinstance(raw_criteria, dict):
                errors.add(skill, "levels", f"{sfield}.levels", "expected a criterion text per level")
                raw_criteria = {}
            for number, text in raw_criteria.items():
                if number not in levels:
                    errors.add(raw_criteria, number, f"{sfield}.levels.{number}", "not a declared level")
                elif not isinstance(text, str) or not text.strip():
                    errors.add(raw_criteria, number, f"{sfield}.levels.{number}", "expected a criterion text")
                else:
                    criteria[number] = text.strip()
            for number in sorted(set(levels) - set(raw_criteria)):
                errors.add(skill, "levels", f"{sfield}.levels", f"level {number} has no criterion")
            skills.append(Skill(skill_id, area_id, stitle, criteria))
        areas.append(Area(area_id, title, tuple(skills)))
    if errors.items:
        raise FrameworkError(
            errors.items[0]
            if len(errors.items) == 1
            else f"{len(errors.items)} problems:\n  " + "\n  ".join(errors.items)
        )
    return Framework(version, levels, tuple(areas), source)


def load_framework(path: Path | None = None) -> Framework:
    """The skill framework file (default ``skills/framework.yaml``), validated."""
    path = Path(path) if path else framework_file()
    if not path.is_file():
        raise FrameworkError(
            f"{path}: no skill framework file (set SDNLAB_SKILLS or restore skills/framework.yaml)"
        )
    text = textfile.read_text(path, FrameworkError)
    try:
        data = load_yaml(text, str(path))
    except YamlSyntaxError as exc:
        raise FrameworkError(str(exc)) from None
    return parse_framework(data, str(path))
