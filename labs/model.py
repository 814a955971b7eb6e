"""Typed lab packages: what ``loader`` turns a ``labs/<id>/lab.yaml`` into.

A lab is an exercise on a model-case topology: a controller mode (none: the trainee writes
flows with ovs-ofctl; builtin: the trainee configures the built-in controller; app: the trainee
writes a Ryu app), VNFs to start, a scenario run before grading (traffic, an attack), scored
scenarios (measured with partial credit, ``sdnlab.certification.scenarios``), grader behaviours
and live probes (public ones for ``check``, hidden ones added at ``submit``),
escalating hints, bilingual texts, and two workspaces with the same layout: ``starter/`` (what
the trainee begins with) and ``solution/`` (the reference). A workspace holds
``flows/<switch>.flows`` (and ``.groups``) files, the app or controller config file, and VNF
config files.

The reference solution and the hidden checks are instructor data (``sdnlab.instructor``): they
are not in the installed package, and a lab loaded where they are missing has its public checks
only (``hidden_available`` is False, ``solution_dir`` raises ``InstructorDataMissing``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

LANGUAGES = ("en", "ja")
LEVELS = ("beginner", "intermediate", "advanced")
SKILLS = ("network", "programming", "security")
CONTROLLER_MODES = ("none", "builtin", "app")


@dataclass(frozen=True)
class Text:
    """A text in every supported language."""

    en: str
    ja: str

    def get(self, lang: str) -> str:
        return self.ja if lang == "ja" else self.en


@dataclass(frozen=True)
class TopologyRef:
    """The topology a lab runs on: a catalogue name or a file inside the lab package, with parameters."""

    source: str  # catalogue name or absolute path
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ControllerSpec:
    """How the lab's switches are controlled; ``file`` (the app or the builtin config) is in the workspace."""

    mode: str
    file: str | None = None


@dataclass(frozen=True)
class VnfSpec:
    """A VNF started in a lab host; ``config`` is a workspace-relative file."""

    name: str
    kind: str
    host: str
    config: str | None = None


@dataclass(frozen=True)
class ScenarioStep:
    """A scenario action before grading: ``pingall``, ``ping``, ``telnet_scan``, ``static_arp``, ``sleep``,
    ``settle``, ``rest``."""

    kind: str
    args: dict
    line: int = 0


@dataclass(frozen=True)
class LabProbe:
    """A live check judged on a running lab: ``ping``, ``tcp``, ``quarantined``, ``vnf_seen``."""

    id: str
    kind: str
    description: str
    args: dict
    weight: float = 1.0
    hidden: bool = False
    line: int = 0


@dataclass(frozen=True)
class Lab:
    """A validated lab package."""

    id: str
    number: int
    title: Text
    summary: Text
    level: str
    minutes: int
    skills: dict  # skill -> weight (1..5)
    topology: TopologyRef
    controller: ControllerSpec
    vnfs: tuple[VnfSpec, ...]
    scenario: tuple[ScenarioStep, ...]
    behaviours: tuple  # sdnlab.grader.Behaviour
    probes: tuple[LabProbe, ...]
    hints: tuple[Text, ...]
    path: Path
    scored: tuple = ()  # sdnlab.certification.scenarios.Scenario: measured, partial credit (live)
    instructor_path: Path | None = None  # the instructor part (sdnlab.instructor), None when not here
    hidden_available: bool = False  # its hidden.yaml was read: the hidden checks are in the lists
    check_texts: dict = field(default_factory=dict)  # check id -> Text (description per language)

    @property
    def starter_dir(self) -> Path:
        return self.path / "starter"

    @property
    def solution_dir(self) -> Path:
        """The reference workspace (instructor data); ``InstructorDataMissing`` where it is not."""
        from sdnlab import instructor

        if self.instructor_path is None:
            raise instructor.InstructorDataMissing(
                f"the reference solution of lab {self.id!r} is not available on this machine: "
                f"{instructor.where_to_set()}"
            )
        return self.instructor_path / instructor.SOLUTION

    def describe(self, check_id: str, lang: str, default: str = "") -> str:
        """A check's description in ``lang`` (``default`` when the lab gives none)."""
        text = self.check_texts.get(check_id)
        return text.get(lang) if text is not None else default

    def readme(self, lang: str) -> Path:
        return self.path / ("README.ja.md" if lang == "ja" else "README.md")

    def task_text(self, lang: str) -> str:
        from sdnlab.labs.errors import LabPackageError
        from sdnlab.labs.workspace import read_text

        return read_text(self.readme(lang), LabPackageError)

    @property
    def hidden_count(self) -> int:
        return sum(b.hidden for b in self.behaviours) + sum(p.hidden for p in self.probes + self.scored)

    @property
    def needs_live(self) -> bool:
        """True when grading needs a running network (a controller, VNFs, a scenario, probes, scored ones)."""
        live_parts = self.vnfs or self.scenario or self.probes or self.scored
        return self.controller.mode != "none" or bool(live_parts)

    def public_summary(self) -> dict:
        """What trainee commands may show: never hidden checks or solutions."""
        return {
            "id": self.id,
            "number": self.number,
            "title": {"en": self.title.en, "ja": self.title.ja},
            "level": self.level,
            "minutes": self.minutes,
            "skills": dict(self.skills),
            "controller": self.controller.mode,
            "checks": sum(not b.hidden for b in self.behaviours)
            + sum(not p.hidden for p in self.probes + self.scored),
            "hints": len(self.hints),
        }
