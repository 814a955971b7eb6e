"""``sdnlab lab ...`` and ``sdnlab progress``: the trainee and instructor commands over the labs library.

Trainee: list, start, status, task, check, hint, submit, reset, stop; ``sdnlab progress``.
Instructor: solve (deploy the reference), new, validate, grade-batch. Hidden checks and
solutions are never printed by trainee commands.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sdnlab.labs import render

app = typer.Typer(help="Lab exercises: trainee and instructor commands.", no_args_is_help=True)
NameOpt = Annotated[
    str, typer.Option("--name", "-n", help="Session (runtime lab) name; several can run at once.")
]
LangOpt = Annotated[str | None, typer.Option("--lang", help="en or ja (default: from the locale).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DEFAULT_NAME = "lab"


def register(root: typer.Typer, flows: typer.Typer) -> None:
    root.add_typer(app, name="lab")
    root.command("progress")(progress)


def language(lang: str | None) -> str:
    """--lang, else the locale (LC_ALL, LC_MESSAGES, LANG): ja for Japanese, en otherwise."""
    from sdnlab.labs.errors import LabSessionError

    if lang:
        if lang not in ("en", "ja"):
            raise LabSessionError(f"--lang {lang!r}: expected en or ja")
        return lang
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def _print_json(data) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


# ---------------------------------------------------------------- trainee


@app.command("list")
def list_(lang: LangOpt = None, json_out: JsonOpt = False):
    """The lab catalogue, with your best score per lab."""
    from sdnlab.labs.errors import ProgressError
    from sdnlab.labs.loader import catalogue
    from sdnlab.labs.progress import ProgressStore, lab_progress

    try:
        done = lab_progress(ProgressStore().load())
    except ProgressError as exc:  # the catalogue still lists; the scores wait for a fixed file
        typer.echo(f"warning: {exc}", err=True)
        done = {}
    rows = []
    for lab in catalogue():
        row = lab.public_summary()
        row["best_percent"] = done[lab.id].best_percent if lab.id in done and done[lab.id].attempts else None
        rows.append(row)
    if json_out:
        _print_json(rows)
    else:
        render.catalogue(Console(), rows, language(lang))


@app.command()
def start(
    lab: Annotated[str, typer.Argument(help="Lab id or number.")],
    name: NameOpt = DEFAULT_NAME,
    workdir: Annotated[
        Path | None, typer.Option(help="Your workspace folder (default ~/.sdnlab/work/ID).")
    ] = None,
    fresh: Annotated[bool, typer.Option(help="Overwrite the workspace with the starter files.")] = False,
):
    """Start a lab: copy the starter into your workspace and bring the network up."""
    from sdnlab.labs import session
    from sdnlab.labs.loader import load_lab

    console = Console()
    record = load_lab(lab)
    with console.status(f"starting {record.id} ..."):
        sess, status = session.start(record, name, workdir, fresh)
    # soft_wrap: paths and commands stay on one line, whole, for copy and paste
    console.print(
        f"[bold]{record.number}. {record.title.en}[/] is running as session [cyan]{name}[/]", soft_wrap=True
    )
    console.print(f"workspace: {sess.workdir}", soft_wrap=True, highlight=False)
    if status.get("shared_workspace_with"):
        console.print(
            f"note: this workspace is shared with session(s) {', '.join(status['shared_workspace_with'])}",
            soft_wrap=True,
            highlight=False,
        )
    switches = ", ".join(f"{s['name']}={s['bridge']}" for s in status.get("switches", []))
    console.print(f"switches (OVS bridges): {switches}", soft_wrap=True, highlight=False)
    console.print(
        f"next: `{session.command('task', name)}`, then `{session.command('check', name)}`",
        soft_wrap=True,
        highlight=False,
    )


@app.command()
def task(
    lab: Annotated[
        str | None, typer.Argument(help="Lab id or number (default: the running session's lab).")
    ] = None,
    lang: LangOpt = None,
    name: NameOpt = DEFAULT_NAME,
):
    """Print the task text of a lab."""
    from sdnlab.labs import session
    from sdnlab.labs.loader import load_lab

    record = load_lab(lab) if lab else session.current(name).load()
    typer.echo(record.task_text(language(lang)))


@app.command()
def check(name: NameOpt = DEFAULT_NAME, json_out: JsonOpt = False):
    """Grade the public checks on your running lab (fast feedback, nothing recorded)."""
    from sdnlab.labs import session

    result = session.check(name)
    if json_out:
        _print_json(result.public_dict())
    else:
        render.result(Console(), result, f"check: {result.lab}")
    raise typer.Exit(0 if result.passed else 1)


@app.command()
def hint(name: NameOpt = DEFAULT_NAME, lang: LangOpt = None):
    """Show the next hint (hints used are recorded)."""
    from sdnlab.labs import session
    from sdnlab.labs.errors import NoMoreHints

    try:
        index, total, text = session.hint(name)
    except NoMoreHints as exc:
        typer.echo(str(exc))
        return
    typer.echo(f"hint {index}/{total}: {text.get(language(lang))}")


@app.command()
def submit(name: NameOpt = DEFAULT_NAME, json_out: JsonOpt = False):
    """Grade every check, hidden ones included, and record the result in your progress."""
    from sdnlab.labs import session

    result, record = session.submit(name)
    if json_out:
        _print_json({"record": record, "result": result.public_dict()})
    else:
        console = Console()
        render.result(console, result.visible(), f"submit: {result.lab}")
        render.hidden_summary(console, result)
        if record["solved_by_reference"]:
            console.print(
                f"[bold]score: {result.percent:g}%[/] recorded as [yellow]solved by the reference[/] "
                "(`sdnlab lab solve` ran in this session): not counted as your score"
            )
        else:
            console.print(
                f"[bold]final score: {result.percent:g}%[/] (recorded; hints used: {record['hints_used']})"
            )
    raise typer.Exit(0 if result.passed else 1)


@app.command()
def reset(
    name: NameOpt = DEFAULT_NAME,
    starter: Annotated[
        bool, typer.Option(help="Also restore the starter files into your workspace.")
    ] = False,
):
    """Redeploy your workspace on the network (flows, app, VNF configs)."""
    from sdnlab.labs import session

    sess, backup = session.reset(name, starter)
    if backup:
        typer.echo(f"your previous workspace is kept in {backup}")
    typer.echo(f"redeployed {sess.workdir} on session {name}")


@app.command()
def status(name: NameOpt = DEFAULT_NAME, json_out: JsonOpt = False):
    """Your running session: lab, workspace, time spent, hints used, whether the network is up."""
    from sdnlab.labs import session

    info = session.describe(name)
    if json_out:
        _print_json(info)
        return
    typer.echo(f"session {info['name']}: lab {info['number']} {info['lab']} - {info['title']}")
    typer.echo(f"workspace: {info['workdir']}")
    down = f"DOWN (`{session.command('reset', name)}` or start again)"
    typer.echo(
        f"running for {info['elapsed_min']:g} min ({info['time_spent_min']:g} min on this lab in all), "
        f"hints used {info['hints_used']}/{info['hints_total']}, "
        f"network {'up' if info['network_up'] else down}"
    )
    if info["reference_deployed"]:
        typer.echo(
            "the reference solution was deployed in this session (`sdnlab lab solve`): "
            "submissions are recorded as solved by the reference"
        )


@app.command()
def logs(
    name: NameOpt = DEFAULT_NAME,
    lines: Annotated[int, typer.Option(help="Last lines of each log.")] = 40,
):
    """The session's controller log, your app's errors and the VNFs' logs (last lines)."""
    from sdnlab.labs import session

    for title, text in session.logs(name, lines):
        typer.echo(f"--- {title}")
        typer.echo(text)


@app.command()
def stop(name: NameOpt = DEFAULT_NAME):
    """Take the lab's network down (your workspace stays)."""
    from sdnlab.labs import session

    sess = session.stop(name)
    typer.echo(f"stopped {sess.lab} (session {name})")


def progress(json_out: JsonOpt = False):
    """Your labs, scores and a skill report (network / programming / security)."""
    from sdnlab.labs.loader import catalogue
    from sdnlab.labs.progress import ProgressStore, lab_progress, skill_report

    data = ProgressStore().load()
    labs = catalogue()
    report = {
        "labs": [vars(p) for p in lab_progress(data).values()],
        "skills": skill_report(data, labs),
    }
    if json_out:
        _print_json(report)
    else:
        render.progress(Console(), report)


# ---------------------------------------------------------------- instructor


@app.command()
def solve(name: NameOpt = DEFAULT_NAME):
    """Instructor: deploy the reference solution on a running session (later submits there do not count)."""
    from sdnlab.labs import session

    sess = session.apply_solution(name)
    typer.echo(f"instructor: the reference solution of {sess.lab} is deployed on session {name}.")
    typer.echo(
        "every later `sdnlab lab submit` in this session is recorded as solved by the reference, not as "
        f"the trainee's score (until `{session.command('stop', name)}` and a new start)"
    )


@app.command()
def new(
    lab_id: Annotated[str, typer.Argument(help="New lab id (lower-case, digits, '_').")],
    root: Annotated[
        Path | None, typer.Option(help="Folder of lab packages (default: the catalogue).")
    ] = None,
):
    """Instructor: scaffold a new lab package."""
    from sdnlab.labs.scaffold import new_lab

    typer.echo(f"created {new_lab(lab_id, root)}")


@app.command()
def validate(
    lab: Annotated[str | None, typer.Argument(help="Lab id, number or folder.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every lab of the catalogue.")] = False,
    mode: Annotated[
        str, typer.Option(help="auto (static when possible) | live (always a real network) | static (never).")
    ] = "auto",
    name: Annotated[
        str, typer.Option("--name", "-n", help="Runtime lab name for live validation.")
    ] = "lab-validate",
    json_out: JsonOpt = False,
):
    """Instructor: check lab packages (texts, hidden checks, solution 100%, starter below)."""
    from sdnlab.labs.errors import LabSessionError
    from sdnlab.labs.loader import lab_dirs
    from sdnlab.labs.validate import MODES, validate_all

    if all_ == bool(lab):
        raise LabSessionError("give a lab ID or --all")
    if mode not in MODES:
        raise LabSessionError(f"--mode {mode!r}: expected one of {', '.join(MODES)}")
    refs = [str(d) for d in lab_dirs()] if all_ else [lab]
    reports = validate_all(refs, name, mode)
    if json_out:
        _print_json([r.to_dict() for r in reports])
    else:
        for r in reports:
            scores = (
                f"solution {r.solution_percent:g}%, starter {r.starter_percent:g}%"
                if r.solution_percent is not None
                else "not scored"
            )
            typer.echo(
                f"{'OK  ' if r.ok else 'FAIL'} {r.lab}: {scores} ({r.mode or 'n/a'}, {r.elapsed_s:.1f} s)"
            )
            for problem in r.problems:
                typer.echo(f"     - {problem}")
    raise typer.Exit(0 if all(r.ok for r in reports) else 1)


@app.command("grade-batch")
def grade_batch(
    directory: Annotated[Path, typer.Argument(help="One folder per trainee, each a workspace.")],
    lab: Annotated[str, typer.Option("--lab", help="Lab id or number the submissions are for.")],
    out: Annotated[
        Path | None, typer.Option(help="Output prefix (default DIR/grades -> grades.csv, grades.json).")
    ] = None,
    name: Annotated[
        str, typer.Option("--name", "-n", help="Runtime lab name for live grading.")
    ] = "lab-batch",
    mode: Annotated[str, typer.Option(help="auto | static (flow files only, no probes) | live.")] = "auto",
    json_out: JsonOpt = False,
):
    """Instructor: grade a class's submissions (all checks) into CSV and JSON."""
    from sdnlab.labs import batch
    from sdnlab.labs.loader import load_lab

    rows = batch.grade_batch(load_lab(lab), directory, name, mode)
    csv_path, json_path = batch.write_outputs(rows, out or Path(directory) / "grades")
    if json_out:
        _print_json(rows)
    else:
        for row in rows:
            typer.echo(
                f"{row['trainee']}: {row['percent']:g}%"
                + (f"  error: {row['error']}" if row["error"] else "")
            )
        typer.echo(f"wrote {csv_path} and {json_path}")
