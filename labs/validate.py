"""Instructor checks of a lab package: it loads, its topology is valid, its texts exist in both
languages, it has hidden checks, its reference solution scores 100% and its starter does not.

Scoring runs statically on the solution's flow files when the lab needs no live network
(controller ``none``, no VNFs, scenario or probes), otherwise on a real lab brought up for the
purpose (root, Open vSwitch), or by a caller's ``score_live`` (the classroom server scores in
a sandbox). Every problem is collected into the report, under the item (``ITEMS``) that found it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sdnlab.errors import SdnlabError
from sdnlab.labs import grading, live
from sdnlab.labs.errors import LabPackageError
from sdnlab.labs.loader import load_lab
from sdnlab.labs.model import Lab
from sdnlab.labs.results import LabResult
from sdnlab.labs.workspace import read_text

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
VALIDATE_NAME = "lab-validate"
ITEMS = {  # what validation checks, in order: item name -> what it asks
    "load": "the lab package loads and its instructor data is on this machine",
    "texts": "task texts, title and hints in English and Japanese",
    "japanese": "every check has a Japanese description",
    "vacuous": "checks that hold on a silent network name the reachability check they guard",
    "descriptions": "check descriptions say what the checks judge",
    "certification": "check skills are known; variants render, differ, and score on several seeds",
    "checks": "hidden checks for submit and public checks for check",
    "topology": "the topology loads and names every VNF host",
    "solution": "the reference solution scores 100%",
    "starter": "the starter scores less than 100%",
}
ScoreLive = Callable[[Lab], tuple[LabResult, LabResult]]  # lab -> (solution, starter), hidden included


@dataclass
class ValidationReport:
    """What ``sdnlab lab validate`` found for one lab."""

    lab: str
    problems: list[str] = field(default_factory=list)
    mode: str = ""
    failing: dict[str, list[str]] = field(default_factory=dict)  # check id -> its counterexamples
    solution_percent: float | None = None
    starter_percent: float | None = None
    elapsed_s: float = 0.0
    items: dict[str, list[str] | None] = field(default_factory=dict)  # item -> its problems; None: not run

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, item: str, problems: list[str]) -> None:
        """Record what one item (``ITEMS``) found."""
        self.items[item] = [*(self.items.get(item) or []), *problems]
        self.problems += problems

    def item_list(self) -> list[dict]:
        """Every item in order: ``{"item", "checks", "state": pass|fail|not run, "problems"}``."""
        out = []
        for name, what in ITEMS.items():
            found = self.items.get(name)
            state = "not run" if found is None else "fail" if found else "pass"
            out.append({"item": name, "checks": what, "state": state, "problems": found or []})
        return out

    def to_dict(self) -> dict:
        return {
            "lab": self.lab,
            "ok": self.ok,
            "problems": self.problems,
            "items": self.item_list(),
            "mode": self.mode,
            "solution_failing": self.failing,
            "solution_percent": self.solution_percent,
            "starter_percent": self.starter_percent,
            "elapsed_s": round(self.elapsed_s, 2),
        }


def check_texts(lab: Lab) -> list[str]:
    """Both task texts present, the Japanese one actually in Japanese, titles and hints in both."""
    problems = []
    for lang in ("en", "ja"):
        path = lab.readme(lang)
        try:
            text = read_text(path, LabPackageError) if path.is_file() else ""
        except LabPackageError as exc:
            problems.append(str(exc))
            continue
        if len(text.strip()) < 80:
            problems.append(f"{path.name}: the {lang} task text is missing or too short")
        elif lang == "ja" and not JAPANESE.search(text):
            problems.append(f"{path.name}: contains no Japanese text")
    if not JAPANESE.search(lab.title.ja):
        problems.append("lab.yaml: title.ja: contains no Japanese text")
    for i, hint in enumerate(lab.hints):
        if not JAPANESE.search(hint.ja):
            problems.append(f"lab.yaml: hints[{i}].ja: contains no Japanese text")
    return problems


def counterexample_text(check: str, details: tuple[str, ...] | list[str]) -> str:
    """A failing check of the solution with its counterexamples (packet, path, blamed rule), indented."""
    body = "\n".join(details) or "no counterexample recorded"
    return f"solution fails {check}:\n" + "\n".join("       " + line for line in body.splitlines())


def check_vacuous(lab: Lab) -> list[str]:
    """Checks that hold on a network forwarding nothing (isolation, no loop) must name what they guard."""
    from sdnlab.grader.behaviours import kind_named

    return [
        f"lab.yaml:{b.line}: {b.id}: {b.kind} holds even on a network that forwards nothing; "
        "add requires: <id of the reachability check it protects>"
        for b in lab.behaviours
        if kind_named(b.kind).vacuous and not b.requires
    ]


PING_CLAIM = re.compile(r"\b(can|still|does)\s+ping\b|\bpings\b", re.IGNORECASE)


def check_descriptions(lab: Lab) -> list[str]:
    """A check's description says what it checks: "ping" only for ``ping``, "ARP" only when ARP is judged."""
    problems = []
    for b in lab.behaviours:
        where = f"{Path(b.source).name}:{b.line}: {b.id}"
        protocols = set(b.traffic.protocols) if b.traffic else set()
        if b.kind != "ping" and PING_CLAIM.search(b.description):
            problems.append(
                f"{where}: the description claims a ping, but a {b.kind} check does not judge one "
                "(use the ping kind, or describe the traffic it judges)"
            )
        if b.kind not in ("ping", "failover") and "ARP" in b.description and "arp" not in protocols:
            problems.append(f"{where}: the description mentions ARP, but the traffic class has no ARP")
    return problems


def check_japanese(lab: Lab) -> list[str]:
    """Every check has a Japanese description (``description: {en: ..., ja: ...}``)."""
    problems = []
    for check_id in [b.id for b in lab.behaviours] + [p.id for p in lab.probes]:
        text = lab.check_texts.get(check_id)
        if text is None or not JAPANESE.search(text.ja):
            problems.append(
                f"check {check_id!r}: no Japanese description (write description: {{en: ..., ja: ...}})"
            )
    return problems


MODES = ("auto", "live", "static")


def needs_network(lab: Lab, mode: str = "auto") -> bool:
    """True when validating ``lab`` in ``mode`` scores it on a running network."""
    return mode == "live" or (mode == "auto" and lab.needs_live)


def validate(
    ref,
    live_name: str = VALIDATE_NAME,
    mode: str = "auto",
    score_live: ScoreLive | None = None,
    step: Callable[[str], None] | None = None,
) -> ValidationReport:
    """Validate one lab package (by id, number or path).

    ``mode``: ``auto`` scores statically when the lab allows it, live otherwise; ``live`` always
    runs a real network; ``static`` never does (labs that need one are reported as not scored).
    ``score_live(lab)`` scores on a network instead of a runtime lab named ``live_name`` on this
    host; ``step(text)`` is told what is being done (for progress shown elsewhere).
    """
    import time

    started = time.perf_counter()
    tell = step or (lambda _text: None)
    tell("reading the lab")
    try:
        lab = load_lab(ref)
    except SdnlabError as exc:
        report = ValidationReport(str(ref))
        report.add("load", [str(exc)])
        return report
    report = ValidationReport(lab.id)
    if lab.instructor_path is None or not lab.hidden_available:
        from sdnlab import instructor

        report.add(
            "load",
            [
                (
                    f"instructor data of lab {lab.id!r} not available on this machine (reference "
                    f"solution, hidden.yaml): {instructor.where_to_set()}"
                )
            ],
        )
        return report
    report.add("load", [])
    report.add("texts", check_texts(lab))
    report.add("japanese", check_japanese(lab))
    report.add("vacuous", check_vacuous(lab))
    report.add("descriptions", check_descriptions(lab))
    from sdnlab.certification.evidence import lab_problems  # check skills known, variants sound

    tell("checking skills and variants")
    report.add("certification", lab_problems(lab.path))
    checks = []
    if lab.hidden_count == 0:
        checks.append("lab.yaml: no hidden behaviour or probe (submit must check more than check does)")
    if not any(not b.hidden for b in lab.behaviours) and not any(
        not p.hidden for p in lab.probes + lab.scored
    ):
        checks.append("lab.yaml: no public check for `sdnlab lab check`")
    report.add("checks", checks)
    try:
        topology = live.load_topology(lab)
    except SdnlabError as exc:
        report.add("topology", [f"topology: {exc}"])
        return report
    report.add(
        "topology",
        [
            f"lab.yaml: vnfs: {vnf.name}: no host {vnf.host!r} in the topology"
            for vnf in lab.vnfs
            if vnf.host not in topology.nodes
        ],
    )
    try:
        flow_files = lab.controller.mode == "none" and not lab.vnfs
        if mode == "static" and not flow_files:
            report.mode = "skipped (needs a live network)"
            report.elapsed_s = time.perf_counter() - started
            return report
        if needs_network(lab, mode):
            report.mode = "live"
            solution, starter = (score_live or (lambda lab: _score_live(lab, live_name)))(lab)
        else:
            report.mode = "static" if not lab.needs_live else "static (behaviours only, probes not run)"
            tell("grading the starter and the solution (static)")
            solution = grading.grade_static(lab, lab.solution_dir, topology=topology)
            starter = grading.grade_static(lab, lab.starter_dir, topology=topology)
    except SdnlabError as exc:
        report.add("solution", [f"grading: {exc}"])
        report.elapsed_s = time.perf_counter() - started
        return report
    report.solution_percent, report.starter_percent = solution.percent, starter.percent
    found = []
    if solution.percent < 100.0:
        failing = [i for i in solution.items if not i.passed]
        found.append(
            f"solution scores {solution.percent:g}%, not 100% (failing: {', '.join(i.id for i in failing)})"
        )
        report.failing = {i.id: list(i.details) for i in failing}
        found += [counterexample_text(item.id, item.details) for item in failing]
    report.add("solution", found)
    report.add(
        "starter",
        ["starter already scores 100%: the exercise asks nothing"] if starter.percent >= 100.0 else [],
    )
    report.elapsed_s = time.perf_counter() - started
    return report


def _score_live(lab: Lab, name: str):
    """Grade the starter then the solution on one real network."""
    from sdnlab.errors import LabError
    from sdnlab.labs.session import redeploy
    from sdnlab.runtime import api

    live.up(lab, lab.starter_dir, name)
    try:
        starter = grading.grade_live(lab, name, include_hidden=True, workdir=lab.starter_dir)
        redeploy(lab, lab.solution_dir, name)
        solution = grading.grade_live(lab, name, include_hidden=True, workdir=lab.solution_dir)
    finally:
        try:
            api.down(name)
        except LabError:
            pass
    return solution, starter


def validate_all(
    refs,
    live_name: str = VALIDATE_NAME,
    mode: str = "auto",
    progress: Callable[[str, int, int], None] | None = None,
) -> list[ValidationReport]:
    """Validate several labs; each live one gets its own runtime name (``<name>-<i>``).

    ``progress(lab, done, total)`` is called before each lab is validated.
    """
    base = live_name[:20]
    reports = []
    for i, ref in enumerate(refs, 1):
        if progress:
            progress(str(ref), i - 1, len(refs))
        reports.append(validate(ref, f"{base}-{i}" if len(refs) > 1 else live_name, mode))
    return reports
