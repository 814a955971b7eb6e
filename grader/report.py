"""Grade results and their renderings: rich text for trainees, JSON for scripts, JUnit XML for CI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from rich.console import Console


@dataclass(frozen=True)
class Failure:
    """One failing (src, dst) case with a concrete counterexample packet and where it went."""

    src: str
    dst: str
    message: str
    packet: str = ""  # ovs flow syntax
    trace: tuple[dict[str, Any], ...] = ()  # hop dicts: switch, in_port, out_port, rules [..]
    outcome: str = ""
    blame: dict[str, Any] | None = None


@dataclass(frozen=True)
class BehaviourResult:
    id: str
    kind: str
    description: str
    weight: float
    hidden: bool
    cases: int
    passed_cases: int
    failures: tuple[Failure, ...] = ()
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.cases > 0 and self.passed_cases == self.cases

    @property
    def score(self) -> float:
        return self.weight * (self.passed_cases / self.cases) if self.cases else 0.0


@dataclass(frozen=True)
class Finding:
    """A disagreement between static prediction and live delivery: a grader finding, not a trainee failure."""

    behaviour: str
    src: str
    dst: str
    packet: str
    predicted: str
    observed: str


@dataclass(frozen=True)
class GradeReport:
    results: tuple[BehaviourResult, ...]
    elapsed_s: float = 0.0
    findings: tuple[Finding, ...] = ()
    live: dict[str, Any] = field(default_factory=dict)
    reference: tuple[str, ...] = ()
    down: tuple[tuple[str, str], ...] = ()  # ((a, b), ...): the links that were down in the graded scenario

    @property
    def score(self) -> float:
        return round(sum(r.score for r in self.results), 3)

    @property
    def max_score(self) -> float:
        return round(sum(r.weight for r in self.results), 3)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def visible(self) -> GradeReport:
        """The report without hidden (instructor-only) behaviours."""
        return GradeReport(
            tuple(r for r in self.results if not r.hidden),
            self.elapsed_s,
            self.findings,
            self.live,
            self.reference,
            self.down,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.passed,
            "elapsed_s": round(self.elapsed_s, 4),
            "behaviours": [
                {
                    **{k: v for k, v in asdict(r).items() if k != "failures"},
                    "passed": r.passed,
                    "score": round(r.score, 3),
                    "failures": [asdict(f) for f in r.failures],
                }
                for r in self.results
            ],
            "findings": [asdict(f) for f in self.findings],
            "live": self.live,
            "reference": list(self.reference),
            "down": ["-".join(pair) for pair in self.down],
        }

    def to_json(self) -> str:
        from sdnlab.jsonio import dumps

        return dumps(self.to_dict())

    def to_junit_xml(self) -> str:
        suite = ET.Element(
            "testsuite",
            name="sdnlab-grade",
            tests=str(len(self.results)),
            failures=str(sum(not r.passed for r in self.results)),
            time=f"{self.elapsed_s:.3f}",
        )
        for r in self.results:
            case = ET.SubElement(suite, "testcase", classname=f"behaviour.{r.kind}", name=r.id, time="0")
            if not r.passed:
                failure = ET.SubElement(
                    case,
                    "failure",
                    message=f"{r.passed_cases}/{r.cases} cases pass ({r.score:.2f}/{r.weight:g} points)",
                )
                failure.text = "\n\n".join(render_failure(f) for f in r.failures) or r.note
            ET.SubElement(case, "system-out").text = r.description
        for finding in self.findings:
            case = ET.SubElement(
                suite,
                "testcase",
                classname="grader.finding",
                name=f"{finding.behaviour}:{finding.src}->{finding.dst}",
            )
            ET.SubElement(
                case,
                "error",
                message=f"static predicted {finding.predicted}, live observed {finding.observed}",
            ).text = finding.packet
        return ET.tostring(suite, encoding="unicode")

    def render_text(self) -> str:
        lines = []
        for r in self.results:
            mark = "PASS" if r.passed else "FAIL"
            hidden = " (hidden)" if r.hidden else ""
            confirmed = self._live_note(r.id)
            lines.append(
                f"[{mark}] {r.id}{hidden}: {r.description}  {r.score:.2f}/{r.weight:g}  "
                f"({r.passed_cases}/{r.cases} cases){confirmed}"
            )
            if r.note:
                lines.append(f"    {r.note}")
            for f in r.failures:
                lines.append("    " + render_failure(f).replace("\n", "\n    "))
        for finding in self.findings:
            lines.append(
                f"[GRADER FINDING] {finding.behaviour} {finding.src}->{finding.dst}: "
                f"predicted {finding.predicted}, observed {finding.observed} ({finding.packet})"
            )
        for item in self.reference:
            lines.append(f"[REFERENCE] {item}")
        if self.down:
            lines.append(f"Graded with links down: {self._down_text()}")
        lines.append(f"Score: {self.score:g}/{self.max_score:g}  ({self.elapsed_s * 1000:.0f} ms)")
        return "\n".join(lines)

    def _down_text(self) -> str:
        return ", ".join("-".join(pair) for pair in self.down)

    def _live_note(self, behaviour_id: str) -> str:
        entry = (self.live.get("behaviours") or {}).get(behaviour_id)
        if not entry:
            return ""
        return f"  [live: {entry['agree']}/{entry['probes']} probes as predicted]"

    def render_rich(self, console: Any = None, lang: str = "en") -> None:
        """Print the report for people (``sdnlab.render``: user text is escaped, never read as markup)."""
        from sdnlab.render import grade_report

        grade_report(console or Console(), self, lang)


def render_failure(f: Failure) -> str:
    lines = [f"{f.src} -> {f.dst}: {f.message}"]
    if f.packet:
        lines.append(f"  packet: {f.packet}")
    for hop in f.trace:
        out = f" -> port {hop['out_port']}" if hop.get("out_port") is not None else ""
        lines.append(f"  {hop['switch']} (in_port {hop['in_port']}){out}")
        for rule in hop["rules"]:
            if "priority" in rule:
                lines.append(
                    f"    table {rule['table']} priority {rule['priority']} [{rule['match']}] "
                    f"-> {rule['actions']} cookie {rule['cookie']}"
                )
            else:
                lines.append(f"    {rule.get('note', '')}")
    if f.outcome:
        lines.append(f"  outcome: {f.outcome}")
    if f.blame:
        b = f.blame
        if b.get("priority") is not None:
            where = b.get("where") or f"line {b.get('line')}"  # the rule's file:line, or its dump line
            lines.append(
                f"  blame: {b['switch']} table {b['table']} priority {b['priority']} [{b['match']}] "
                f"-> {b['actions']} (cookie {b['cookie']}, {where})"
            )
        else:
            lines.append(f"  blame: {b['switch']}: {b.get('reason', '')}")
    return "\n".join(lines)
