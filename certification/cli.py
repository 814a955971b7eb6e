"""``sdnlab skills ...``, ``sdnlab exam ...`` and ``sdnlab cert ...``: thin commands over sdnlab.certification."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

skills_app = typer.Typer(help="The skill framework and your skill report.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
LangOpt = Annotated[str, typer.Option("--lang", help="en or ja.")]


def register(root: typer.Typer, flows: typer.Typer) -> None:
    root.add_typer(skills_app, name="skills")


def _print_json(data) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@skills_app.command("list")
def skills_list(json_out: JsonOpt = False, lang: LangOpt = "en"):
    """The skill framework: areas, skills and the criterion of each level."""
    from sdnlab.certification.framework import load_framework

    fw = load_framework()
    if json_out:
        _print_json(
            {
                "version": fw.version,
                "areas": [
                    {"id": a.id, "skills": [{"id": s.id, "title": s.title.en, "levels": s.criteria} for s in a.skills]}
                    for a in fw.areas
                ],
            }
        )
        return
    typer.echo(f"skill framework {fw.version}")
    for area in fw.areas:
        typer.echo(f"{area.title.ja if lang == 'ja' else area.title.en}")
        for skill in area.skills:
            typer.echo(f"  {skill.id}: {skill.title.ja if lang == 'ja' else skill.title.en}")
            for level, text in sorted(skill.criteria.items()):
                typer.echo(f"    {level} {fw.level_name(level, lang)}: {text}")


@skills_app.command("report")
def skills_report(json_out: JsonOpt = False, lang: LangOpt = "en"):
    """Your level in each skill, from the checks you passed (labs and exams), not from lab titles."""
    from sdnlab.certification.framework import load_framework
    from sdnlab.certification.report import trainee_report
    from sdnlab.labs.progress import ProgressStore

    fw = load_framework()
    report = trainee_report(fw, ProgressStore().load(), (), lang)
    if json_out:
        _print_json(report)
        return
    typer.echo(f"skill report (framework {report['framework']})")
    for area in report["areas"]:
        typer.echo(area["title"])
        for row in area["skills"]:
            evidence = f"{row['checks_passed']}/{row['checks_total']} checks passed" if row["checks_total"] else "no evidence yet"
            typer.echo(f"  {row['skill']:<34} level {row['level']} {row['level_name']:<13} ({evidence})")
