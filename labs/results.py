"""Lab results: grader behaviours and live probes merged into one scored list of checks.

``LabResult.percent`` is the weighted score over every check graded; ``visible()`` drops the
hidden ones (what ``check`` shows), ``public_dict()`` is the JSON a trainee may see (hidden
checks appear only as counts).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace


@dataclass(frozen=True)
class CheckItem:
    """One graded check: a grader behaviour or a live probe."""

    id: str
    source: str  # "behaviour" | "probe" | "scenario" (scored, sdnlab.certification.scenarios)
    description: str
    weight: float
    score: float
    hidden: bool
    cases: int = 1
    passed_cases: int = 0
    details: tuple[str, ...] = ()
    paths: tuple[dict, ...] = ()  # the counterexamples' hop-by-hop paths, for drawing (``failure_path``)
    description_ja: str = ""  # the lab's Japanese description (empty: none)
    no_path: str = ""  # a failed check with nothing to draw: why (``sdnlab.labs.probe_paths``)

    def describe(self, lang: str) -> str:
        """The description in ``lang`` (English when the lab gives none in that language)."""
        return self.description_ja if lang == "ja" and self.description_ja else self.description

    @property
    def passed(self) -> bool:
        return self.cases > 0 and self.passed_cases == self.cases


@dataclass(frozen=True)
class ReplayFinding:
    """What a replayed conversation showed beyond the score (reported to the trainee, not scored)."""

    check: str  # the conversation check of ``sdnlab.grader.replay.grade`` that failed
    detail: str
    messages: tuple[str, ...] = ()  # the messages that show it, each reply with the app line that sent it


@dataclass(frozen=True)
class CheckedBy:
    """How ``lab check`` graded a lab whose controller is the trainee's app: by replay, or live and why.

    ``notes`` says how many of the result's first notes put this in words (the CLI prints them;
    the classroom shows this record instead, in the trainee's language)."""

    replay: bool
    reason: str = ""  # why live, not by replay
    app: str = ""  # the app file that was replayed
    seconds: float = 0.0  # how long the replay ran
    findings: tuple[ReplayFinding, ...] = ()
    notes: int = 0
    app_changed: bool = False  # the app file changed after the lab's controller started (submit grades that)


@dataclass(frozen=True)
class LabResult:
    """The outcome of grading one lab."""

    lab: str
    items: tuple[CheckItem, ...]
    mode: str  # "static" | "live" | "replay" (lab check of a controller-app lab: labs.replay_check)
    elapsed_s: float = 0.0
    grader_version: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    checked_by: CheckedBy | None = None  # lab check of a controller-app lab: by replay or live (why)

    @property
    def score(self) -> float:
        return round(sum(i.score for i in self.items), 3)

    @property
    def max_score(self) -> float:
        return round(sum(i.weight for i in self.items), 3)

    @property
    def percent(self) -> float:
        return round(100.0 * self.score / self.max_score, 1) if self.max_score else 0.0

    @property
    def passed(self) -> bool:
        return bool(self.items) and all(i.passed for i in self.items)

    def visible(self) -> LabResult:
        return replace(self, items=tuple(i for i in self.items if not i.hidden))

    def to_dict(self) -> dict:
        """Everything, hidden checks included (instructor output)."""
        return {
            "lab": self.lab,
            "mode": self.mode,
            "score": self.score,
            "max_score": self.max_score,
            "percent": self.percent,
            "passed": self.passed,
            "elapsed_s": round(self.elapsed_s, 3),
            "grader_version": self.grader_version,
            "notes": list(self.notes),
            "checks": [
                {**asdict(i), "passed": i.passed, "details": list(i.details), "paths": list(i.paths)}
                for i in self.items
            ],
            **({"checked_by": checked_by_dict(self.checked_by)} if self.checked_by else {}),
        }

    @classmethod
    def from_dict(cls, data: dict) -> LabResult:
        """The result back from ``to_dict()`` (e.g. a report a sandbox answered); unknown keys are ignored."""
        names = set(CheckItem.__dataclass_fields__)
        items = []
        for check in data.get("checks", []):
            fields = {k: v for k, v in check.items() if k in names}
            fields["details"] = tuple(fields.get("details") or ())
            fields["paths"] = tuple(fields.get("paths") or ())
            items.append(CheckItem(**fields))
        return cls(
            str(data.get("lab", "")),
            tuple(items),
            str(data.get("mode", "")),
            float(data.get("elapsed_s") or 0.0),
            str(data.get("grader_version", "")),
            tuple(data.get("notes") or ()),
        )

    def public_dict(self) -> dict:
        """What a trainee sees: visible checks in full, hidden ones only as a pass count."""
        data = self.to_dict()
        hidden = [i for i in self.items if i.hidden]
        data["checks"] = [c for c in data["checks"] if not c["hidden"]]
        data["hidden_checks"] = {"total": len(hidden), "passed": sum(i.passed for i in hidden)}
        return data


def checked_by_dict(checked: CheckedBy) -> dict:
    """``CheckedBy`` as JSON (lists, not tuples)."""
    return {
        **asdict(checked),
        "seconds": round(checked.seconds, 3),
        "findings": [{**asdict(f), "messages": list(f.messages)} for f in checked.findings],
    }


def failure_path(failure) -> dict:
    """A grader failure as a path to draw: source and destination hosts, the switches crossed with
    their in and out ports, the outcome, and the switch and rule (``file:line``) blamed."""
    hops = [
        {"switch": str(h.get("switch")), "in_port": h.get("in_port"), "out_port": h.get("out_port")}
        for h in failure.trace
    ]
    blame = None
    if failure.blame:
        blame = {"switch": str(failure.blame.get("switch")), "where": failure.blame.get("where") or ""}
    return {"src": failure.src, "dst": failure.dst, "hops": hops, "outcome": failure.outcome, "blame": blame}


def items_from_report(report) -> list[CheckItem]:
    """Grader ``GradeReport`` results as check items (failures rendered to readable lines)."""
    from sdnlab.grader.report import render_failure

    items = []
    for r in report.results:
        details = tuple(render_failure(f) for f in r.failures) + ((r.note,) if r.note else ())
        items.append(
            CheckItem(
                r.id,
                "behaviour",
                r.description,
                r.weight,
                round(r.score, 4),
                r.hidden,
                r.cases,
                r.passed_cases,
                details,
                tuple(failure_path(f) for f in r.failures[:3]),
            )
        )
    return items


def render_text(result: LabResult, show_details: bool = True) -> str:
    """Plain-text rendering (CLI without colour, logs)."""
    lines = []
    for item in result.items:
        mark = "PASS" if item.passed else "FAIL"
        hidden = " (hidden)" if item.hidden else ""
        lines.append(
            f"[{mark}] {item.id}{hidden}: {item.description}  {item.score:.2f}/{item.weight:g}  "
            f"({item.passed_cases}/{item.cases})"
        )
        if show_details and not item.passed:
            for detail in item.details[:3]:
                lines.append("    " + detail.replace("\n", "\n    "))
    for note in result.notes:
        lines.append(f"note: {note}")
    lines.append(
        f"Score: {result.score:g}/{result.max_score:g} = {result.percent:g}%  "
        f"({result.mode}, {result.elapsed_s:.1f} s)"
    )
    return "\n".join(lines)
