"""Rich renderings of lab results, the catalogue and the progress report (CLI output)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from sdnlab.labs.results import LabResult


def result(console: Console, res: LabResult, title: str) -> None:
    table = Table(title=title)
    for column in ("", "check", "cases", "points"):
        table.add_column(column)
    for item in res.items:
        mark = "[green]PASS[/]" if item.passed else "[red]FAIL[/]"
        hidden = " [dim](hidden)[/]" if item.hidden else ""
        table.add_row(
            mark,
            f"{item.id}{hidden}\n{item.description}",
            f"{item.passed_cases}/{item.cases}",
            f"{item.score:.2f}/{item.weight:g}",
        )
    console.print(table)
    for item in res.items:
        if item.passed or item.hidden:
            continue
        for detail in item.details[:2]:
            console.print(f"[bold red]{item.id}[/]", detail, highlight=False)
    for note in res.notes:
        console.print(f"[dim]{note}[/]", highlight=False)
    colour = "green" if res.percent >= 100 else "yellow" if res.percent >= 50 else "red"
    console.print(
        f"[bold {colour}]Score: {res.percent:g}%[/] ({res.score:g}/{res.max_score:g} points, "
        f"{res.mode}, {res.elapsed_s:.1f} s)"
    )


def hidden_summary(console: Console, res: LabResult) -> None:
    hidden = [i for i in res.items if i.hidden]
    if hidden:
        console.print(f"hidden checks: {sum(i.passed for i in hidden)}/{len(hidden)} passed")


def catalogue(console: Console, rows: list[dict], lang: str) -> None:
    table = Table(title="sdnlab labs")
    for column in ("#", "id", "title", "level", "min", "skills", "controller", "best"):
        table.add_column(column)
    for row in rows:
        best = row.get("best_percent")
        table.add_row(
            str(row["number"]),
            row["id"],
            row["title"][lang],
            row["level"],
            str(row["minutes"]),
            ", ".join(row["skills"]),
            row["controller"],
            "-" if best is None else f"{best:g}%",
        )
    console.print(table)


def progress(console: Console, report: dict) -> None:
    table = Table(title="labs")
    for column in ("lab", "attempts", "best", "last", "hints", "done"):
        table.add_column(column)
    reference_runs = 0
    for lab in report["labs"]:
        reference_runs += lab.get("reference_runs", 0)
        tried = lab["attempts"] > 0
        table.add_row(
            lab["lab"],
            str(lab["attempts"]),
            f"{lab['best_percent']:g}%" if tried else "-",
            f"{lab['last_percent']:g}%" if tried else "-",
            str(lab["hints_used"]),
            "yes" if lab["done"] else "",
        )
    console.print(table)
    if reference_runs:
        console.print(
            f"[dim]{reference_runs} submission(s) made after `sdnlab lab solve` (solved by the reference) "
            "are not counted[/]"
        )
    skills = Table(title="skills")
    for column in ("skill", "score", "level", "labs done"):
        skills.add_column(column)
    for skill, data in report["skills"].items():
        skills.add_row(
            skill, f"{data['percent']:g}%", data["level"], f"{len(data['labs_done'])}/{data['labs_total']}"
        )
    console.print(skills)
