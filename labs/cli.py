"""``sdnlab lab ...`` and ``sdnlab progress``: the trainee and instructor commands over the labs library.

Trainee: list, start, status, task, check, hint, submit, reset, stop; ``sdnlab progress``.
Instructor: solve (deploy the reference), new, validate, grade-batch. Hidden checks and
solutions are never printed by trainee commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sdnlab import render
from sdnlab.cli_options import JsonOpt, LangOpt, NameOpt, lab_name, language
from sdnlab.jsonio import dumps
from sdnlab.labs.render import fill_session

app = typer.Typer(
    help="""Lab exercises: trainee and instructor commands.

\b
Examples:
  sdnlab lab list
  sdnlab lab start 3
  sdnlab lab task --lang ja
  sdnlab lab check
  sdnlab lab hint
  sdnlab lab submit""",
    no_args_is_help=True,
)


def register(root: typer.Typer, flows: typer.Typer) -> None:
    root.add_typer(app, name="lab")
    root.command("progress")(progress)


def _print_json(data) -> None:
    typer.echo(dumps(data))


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
        render.catalogue(render.console(), rows, language(lang))


@app.command()
def start(
    lab: Annotated[str, typer.Argument(help="Lab id or number.")],
    name: NameOpt = None,
    workdir: Annotated[
        Path | None, typer.Option(help="Your workspace folder (default ~/.sdnlab/work/ID).")
    ] = None,
    fresh: Annotated[bool, typer.Option(help="Overwrite the workspace with the starter files.")] = False,
    json_out: JsonOpt = False,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Your variant of a variable lab (recorded; default: the catalogue's)."),
    ] = None,
):
    """Start a lab: copy the starter into your workspace and bring the network up."""
    from sdnlab.labs import session
    from sdnlab.labs.loader import load_lab

    name = name or session.DEFAULT_NAME  # start creates a session: no current one to look for
    record = load_lab(lab)
    if seed is not None:  # render the seed's variant (sdnlab.certification.variants) and run that
        from sdnlab.certification.variants import render_for_session

        record = load_lab(render_for_session(record.path, seed, name))
    with render.Progress(f"starting {record.id}", enabled=not json_out) as update:
        if update:
            update("network, controller, flows", 0, 0)
        sess, status = session.start(record, name, workdir, fresh)
    switches = {s["name"]: s["bridge"] for s in status.get("switches", [])}
    if json_out:
        _print_json(
            {
                "session": name,
                "lab": record.id,
                "number": record.number,
                "workdir": sess.workdir,
                "switches": switches,
                "hosts": [h["name"] for h in status.get("hosts", [])],
            }
        )
        return
    out = render.console()
    # soft_wrap: paths and commands stay on one line, whole, for copy and paste
    line = render.plain(f"{record.number}. {record.title.en}", "bold")
    line.append(" is running as session ")
    line.append_text(render.plain(name, "cyan"))
    out.print(line, soft_wrap=True)
    out.print(render.plain(f"workspace: {sess.workdir}"), soft_wrap=True, highlight=False)
    if status.get("shared_workspace_with"):
        shared = ", ".join(status["shared_workspace_with"])
        out.print(render.plain(f"note: this workspace is shared with session(s) {shared}"), soft_wrap=True)
    bridges = ", ".join(f"{k}={v}" for k, v in switches.items())
    out.print(render.plain(f"switches (OVS bridges): {bridges}"), soft_wrap=True, highlight=False)
    out.print(
        render.plain(f"next: `{session.command('task', name)}`, then `{session.command('check', name)}`"),
        soft_wrap=True,
        highlight=False,
    )


@app.command()
def task(
    lab: Annotated[
        str | None, typer.Argument(help="Lab id or number (default: the running session's lab).")
    ] = None,
    lang: LangOpt = None,
    name: NameOpt = None,
    json_out: JsonOpt = False,
):
    """Print the task text of a lab (Markdown, rendered on a terminal)."""
    from sdnlab.labs import session
    from sdnlab.labs.errors import LabSessionError
    from sdnlab.labs.loader import load_lab

    lang = language(lang)
    if lab:
        record = load_lab(lab)
        try:
            name = lab_name(name)
        except LabSessionError:  # several sessions: the text still shows a working command
            name = session.DEFAULT_NAME
    else:
        name = lab_name(name)
        record = session.current(name).load()
    text = fill_session(record.task_text(lang), name)
    if json_out:
        _print_json({"lab": record.id, "number": record.number, "lang": lang, "session": name, "text": text})
    else:
        render.markdown(render.console(), text)


@app.command()
def check(name: NameOpt = None, lang: LangOpt = None, json_out: JsonOpt = False):
    """Grade the public checks on your running lab (fast feedback, nothing recorded)."""
    from sdnlab.labs import session

    result = session.check(lab_name(name))
    if json_out:
        _print_json(result.public_dict())
    else:
        lang = language(lang)
        render.lab_result(render.console(), result, f"{render.word('check', lang)}: {result.lab}", lang)
    raise typer.Exit(0 if result.passed else 1)


@app.command()
def hint(name: NameOpt = None, lang: LangOpt = None, json_out: JsonOpt = False):
    """Show the next hint (hints used are recorded)."""
    from sdnlab.labs import session
    from sdnlab.labs.errors import NoMoreHints

    name = lab_name(name)
    try:
        index, total, text = session.hint(name)
    except NoMoreHints as exc:
        if json_out:
            _print_json({"hint": None, "message": str(exc)})
        else:
            typer.echo(str(exc))
        return
    body = fill_session(text.get(language(lang)), name)
    if json_out:
        _print_json({"hint": index, "total": total, "text": body})
    else:
        render.console().print(render.plain(f"hint {index}/{total}: {body}"), highlight=False)


@app.command()
def submit(name: NameOpt = None, lang: LangOpt = None, json_out: JsonOpt = False):
    """Grade every check, hidden ones included, and record the result in your progress."""
    from sdnlab.labs import session

    result, record = session.submit(lab_name(name))
    if json_out:
        _print_json({"record": record, "result": result.public_dict()})
    else:
        lang = language(lang)
        out = render.console()
        render.lab_result(out, result.visible(), f"{render.word('submit', lang)}: {result.lab}", lang)
        render.hidden_summary(out, result, lang)
        if record["solved_by_reference"]:
            out.print(
                f"[bold]score: {result.percent:g}%[/] recorded as [yellow]solved by the reference[/] "
                "(`sdnlab lab solve` ran in this session): not counted as your score"
            )
        else:
            out.print(
                f"[bold]final score: {result.percent:g}%[/] (recorded; hints used: {record['hints_used']})"
            )
    raise typer.Exit(0 if result.passed else 1)


@app.command()
def reset(
    name: NameOpt = None,
    starter: Annotated[
        bool, typer.Option(help="Also restore the starter files into your workspace.")
    ] = False,
    json_out: JsonOpt = False,
):
    """Redeploy your workspace on the network (flows, app, VNF configs)."""
    from sdnlab.labs import session

    name = lab_name(name)
    sess, backup = session.reset(name, starter)
    if json_out:
        _print_json(
            {"session": name, "lab": sess.lab, "workdir": sess.workdir, "redeployed": True, "backup": backup}
        )
        return
    if backup:
        typer.echo(f"your previous workspace is kept in {backup}")
    typer.echo(f"redeployed {sess.workdir} on session {name}")


@app.command()
def status(name: NameOpt = None, json_out: JsonOpt = False):
    """Your running session: lab, workspace, time spent, hints used, whether the network is up."""
    from sdnlab.labs import session

    name = lab_name(name)
    info = session.describe(name)
    if json_out:
        _print_json(info)
        return
    typer.echo(f"session {info['name']}: lab {info['number']} {info['lab']} - {info['title']}")
    typer.echo(f"workspace: {info['workdir']}")
    if info.get("seed") is not None:
        typer.echo(f"variant: seed {info['seed']}")
    down = f"DOWN (`{session.command('reset', name)}` or start again)"
    typer.echo(
        f"running for {info['elapsed_min']:g} min ({info['time_spent_min']:g} min on this lab in all), "
        f"hints used {info['hints_used']}/{info['hints_total']}, "
        f"network {'up' if info['network_up'] else down}"
    )
    ctl = info.get("controller") or {}
    if ctl.get("port"):
        typer.echo(f"controller {ctl.get('mode', '')} on {ctl.get('host', '127.0.0.1')}:{ctl['port']}")
    if ctl.get("rest_port"):
        typer.echo(
            f"REST API http://127.0.0.1:{ctl['rest_port']}/ (every request carries the lab's token: "
            f'curl -H "Authorization: Bearer $(cat {info["rest_token_file"]})" ...)'
        )
    if info["reference_deployed"]:
        typer.echo(
            "the reference solution was deployed in this session (`sdnlab lab solve`): "
            "submissions are recorded as solved by the reference"
        )


@app.command()
def logs(
    name: NameOpt = None,
    lines: Annotated[int, typer.Option(help="Last lines of each log.")] = 40,
):
    """The session's controller log, your app's errors and the VNFs' logs (last lines)."""
    from sdnlab.labs import session

    for title, text in session.logs(lab_name(name), lines):
        typer.echo(f"--- {title}")
        typer.echo(text)


@app.command()
def stop(name: NameOpt = None, json_out: JsonOpt = False):
    """Take the lab's network down (your workspace stays)."""
    from sdnlab.labs import session

    name = lab_name(name)
    sess = session.stop(name)
    if json_out:
        _print_json({"session": name, "lab": sess.lab, "workdir": sess.workdir, "stopped": True})
    else:
        typer.echo(f"stopped {sess.lab} (session {name})")


def progress(lang: LangOpt = None, json_out: JsonOpt = False):
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
        render.progress(render.console(), report, language(lang))


# ---------------------------------------------------------------- instructor


@app.command()
def solve(name: NameOpt = None, json_out: JsonOpt = False):
    """Instructor: deploy the reference solution on a running session (later submits there do not count)."""
    from sdnlab.labs import session

    name = lab_name(name)
    sess = session.apply_solution(name)
    if json_out:
        _print_json({"session": name, "lab": sess.lab, "reference_deployed": True})
        return
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
    json_out: JsonOpt = False,
):
    """Instructor: scaffold a new lab package."""
    from sdnlab.labs.scaffold import new_lab

    folder = new_lab(lab_id, root)
    if json_out:
        _print_json({"lab": lab_id, "path": str(folder)})
    else:
        typer.echo(f"created {folder}")


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
    with render.Progress("validating", enabled=not json_out and len(refs) > 1) as update:
        reports = validate_all(refs, name, mode, progress=_named_steps(update))
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


def _named_steps(update):
    """A library progress callback (step, done, total) that shows folder names as their last part."""
    if update is None:
        return None
    return lambda step, done, total: update(Path(step).name, done, total)


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

    with render.Progress("grading", enabled=not json_out) as update:
        rows = batch.grade_batch(load_lab(lab), directory, name, mode, progress=update)
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
