"""``sdnlab skills|exam|cert ...`` and ``sdnlab lab render``: thin commands over sdnlab.certification."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from sdnlab.cli_options import JsonOpt, LangOpt, language
from sdnlab.jsonio import dumps

skills_app = typer.Typer(help="The skill framework and your skill report.", no_args_is_help=True)


exam_app = typer.Typer(
    help="Timed exams: start, status, check, hint, submit; instructors: solve, issue.", no_args_is_help=True
)
SessionOpt = Annotated[str, typer.Option("--name", "-n", help="Exam session name (several can run at once).")]
cert_app = typer.Typer(help="Certificates: verify, revoke, print.", no_args_is_help=True)


def register(root: typer.Typer, flows: typer.Typer) -> None:
    root.add_typer(skills_app, name="skills")
    root.add_typer(cert_app, name="cert")
    root.add_typer(exam_app, name="exam")
    for group in root.registered_groups:  # `sdnlab lab render` joins the labs library's group
        if group.name == "lab" and group.typer_instance is not None:
            group.typer_instance.command("render")(lab_render)


@skills_app.command("list")
def skills_list(json_out: JsonOpt = False, lang: LangOpt = None):
    """The skill framework: areas, skills and the criterion of each level."""
    from sdnlab.certification.framework import load_framework

    lang = language(lang)
    fw = load_framework()
    if json_out:
        typer.echo(
            dumps(
                {
                    "version": fw.version,
                    "areas": [
                        {
                            "id": a.id,
                            "skills": [
                                {"id": s.id, "title": s.title.en, "levels": s.criteria} for s in a.skills
                            ],
                        }
                        for a in fw.areas
                    ],
                }
            )
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
def skills_report(json_out: JsonOpt = False, lang: LangOpt = None):
    """Your level in each skill, from the checks you passed (labs and exams), not from lab titles."""
    from sdnlab.certification import attempt
    from sdnlab.certification.framework import load_framework
    from sdnlab.certification.report import trainee_report
    from sdnlab.labs.progress import ProgressStore

    fw = load_framework()
    report = trainee_report(fw, ProgressStore().load(), tuple(attempt.exam_outcomes()), language(lang))
    if json_out:
        typer.echo(dumps(report))
        return
    typer.echo(f"skill report (framework {report['framework']})")
    for area in report["areas"]:
        typer.echo(area["title"])
        for row in area["skills"]:
            evidence = (
                f"{row['checks_passed']}/{row['checks_total']} checks passed"
                if row["checks_total"]
                else "no evidence yet"
            )
            typer.echo(f"  {row['skill']:<34} level {row['level']} {row['level_name']:<13} ({evidence})")


# ---------------------------------------------------------------- certificates


def _trusted(key: Path | None):
    from sdnlab.certification import keys
    from sdnlab.certification.errors import CertificationError

    path = key or keys.default_public()
    if not path.is_file():
        raise CertificationError(
            f"no issuer public key at {path}: pass --key ISSUER.pub.pem (or a did:key file)"
        )
    return keys.load_public(path)


@cert_app.command("verify")
def cert_verify(
    certificate: Annotated[Path, typer.Argument(help="The certificate JSON file.")],
    evidence: Annotated[
        Path | None, typer.Option("--evidence", help="The evidence bundle (zip) to check too.")
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="The issuer's public key (PEM or did:key); default: the local issuer's."),
    ] = None,
    revocations: Annotated[
        Path | None,
        typer.Option(
            "--revocations", help="The issuer's revocation list; default: the local one if present."
        ),
    ] = None,
    json_out: JsonOpt = False,
):
    """Verify a certificate offline: exit 0 with its facts, non-zero with the reason."""
    from sdnlab.certification import credential, keys

    if revocations is None and keys.default_public().parent.joinpath(REVOCATIONS).is_file() and key is None:
        revocations = keys.default_public().parent / REVOCATIONS
    facts = credential.verify(certificate, _trusted(key), evidence, revocations)
    if json_out:
        typer.echo(
            dumps(
                {
                    "valid": True,
                    "evidence_checked": evidence is not None,
                    "revocations_checked": revocations is not None,
                    **facts.to_dict(),
                }
            )
        )
        return
    typer.echo(f"VALID certificate {facts.credential_id}")
    typer.echo(f"  trainee: {facts.trainee}")
    typer.echo(f"  exam: {facts.exam_title} ({facts.exam_id}), attempt {facts.attempt_id}, seed {facts.seed}")
    typer.echo(
        f"  score: {facts.score_percent:g}% (pass mark {facts.pass_percent:g}%), issued {facts.issued}"
    )
    for skill, level in sorted(facts.skills.items()):
        typer.echo(f"  skill {skill}: level {level}")
    typer.echo(f"  issuer: {facts.issuer}")
    typer.echo(
        f"  evidence: {'bundle checked' if evidence else 'not checked (pass --evidence)'}; "
        f"revocation: {'checked' if revocations else 'no list given'}"
    )
    if facts.reference_run:
        typer.echo("  NOTE: a reference run (instructor), not a trainee's result")


REVOCATIONS = "revocations.json"


@cert_app.command("revoke")
def cert_revoke(
    certificate: Annotated[str, typer.Argument(help="A certificate file or its id (urn:uuid:...).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown by verify).")],
    revocations: Annotated[
        Path | None, typer.Option("--revocations", help="The list to update (default: next to the keys).")
    ] = None,
    json_out: JsonOpt = False,
):
    """Instructor: add a certificate to the issuer's signed revocation list."""
    from sdnlab.certification import credential, keys
    from sdnlab.certification.paths import keys_dir

    cert_id = certificate
    if Path(certificate).is_file():
        cert_id = json.loads(Path(certificate).read_text(encoding="utf-8")).get("id", "")
    path = revocations or keys_dir() / REVOCATIONS
    count = credential.revoke(path, cert_id, reason, keys.load_or_create())
    if json_out:
        typer.echo(dumps({"revoked": cert_id, "reason": reason, "revocations": str(path), "count": count}))
        return
    typer.echo(f"revoked {cert_id} ({count} in {path})")


@cert_app.command("key")
def cert_key(json_out: JsonOpt = False):
    """Print where the issuer's public key is (created at first use) and its did:key."""
    from sdnlab.certification import keys

    key = keys.load_or_create()
    public, did = keys.default_public(), keys.did_key(key.public_key())
    if json_out:
        typer.echo(dumps({"public_key_path": str(public), "did": did}))
        return
    typer.echo(f"{public}\n{did}")


@cert_app.command("page")
def cert_page(
    certificate: Annotated[Path, typer.Argument(help="A certificate JSON file (verified first).")],
    out: Annotated[
        Path | None, typer.Option("-o", help="Output stem (default: next to the certificate).")
    ] = None,
    key: Annotated[Path | None, typer.Option("--key", help="The issuer's public key.")] = None,
    pdf: Annotated[bool, typer.Option(help="Also print PDFs with headless Chromium when available.")] = True,
    json_out: JsonOpt = False,
):
    """Write the printable pages (English and Japanese HTML, PDF when Chromium is present)."""
    from sdnlab.certification import credential, page
    from sdnlab.certification.framework import load_framework

    facts = credential.verify(certificate, _trusted(key))
    fw = load_framework()
    names = {lang: {n: fw.level_name(n, lang) for n in fw.levels} for lang in ("en", "ja")}
    written, no_pdf = page.write_pages(facts, out or certificate.with_suffix(""), names, pdf)
    if json_out:
        answer = {"certificate": facts.credential_id, "written": [str(path) for path in written]}
        typer.echo(dumps({**answer, "no_pdf": no_pdf} if no_pdf else answer))
        return
    for path in written:
        typer.echo(f"wrote {path}")
    if no_pdf:
        typer.echo(f"no PDF: {no_pdf} (the HTML pages print from a browser)", err=True)


# ---------------------------------------------------------------- variants


def lab_render(
    lab: Annotated[str, typer.Argument(help="Lab id, number or folder.")],
    seed: Annotated[int, typer.Option("--seed", help="The variant's seed.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Folder to write the rendered lab into.")],
    json_out: JsonOpt = False,
):
    """Instructor: write one variant of a lab (topology, task texts, starter; its solution and hidden
    checks into OUT/instructor/<id>) for reading."""
    from sdnlab import instructor
    from sdnlab.certification import variants
    from sdnlab.labs.loader import find_lab_dir, load_lab

    rendered = variants.render(find_lab_dir(lab), seed, out)
    variant = load_lab(rendered.path)  # the variant is a valid lab
    part = str(variant.instructor_path) if variant.instructor_path else None
    if json_out:
        typer.echo(
            dumps(
                {
                    "path": str(rendered.path),
                    "instructor": part,
                    "seed": rendered.seed,
                    "values": rendered.values,
                }
            )
        )
        return
    values = ", ".join(f"{k}={v}" for k, v in sorted(rendered.values.items())) or "no variables"
    typer.echo(f"wrote {rendered.path} (seed {seed}: {values})")
    typer.echo(
        f"instructor part: {part}" if part else f"instructor part: not rendered ({instructor.NOT_AVAILABLE})"
    )


# ---------------------------------------------------------------- exams


def _now() -> float:
    import time

    return time.time()


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


@exam_app.command("list")
def exam_list(json_out: JsonOpt = False, lang: LangOpt = None):
    """The exam catalogue."""
    from sdnlab.certification.exam import catalogue

    lang = language(lang)
    rows = [
        {
            "id": e.id,
            "title": e.title(lang),
            "minutes": e.minutes,
            "tasks": len(e.tasks),
            "pass_percent": e.pass_percent,
            "attempts": e.attempts,
            "hints": e.hints_allowed,
            "certifies": list(e.certifies),
        }
        for e in catalogue()
    ]
    if json_out:
        typer.echo(dumps(rows))
        return
    for row in rows:
        typer.echo(
            f"{row['id']:<20} {row['minutes']:g} min, {row['tasks']} tasks, pass {row['pass_percent']:g}%, "
            f"{row['attempts']} attempt(s), hints {'yes' if row['hints'] else 'no'}: {row['title']}"
        )


@exam_app.command("start")
def exam_start(
    exam: Annotated[str, typer.Argument(help="Exam id (catalogue) or exam YAML file.")],
    seed: Annotated[
        int | None, typer.Option("--seed", help="Variant seed (default: a random one, recorded).")
    ] = None,
    trainee: Annotated[
        str | None,
        typer.Option("--trainee", help="Your name as it goes on the certificate (default: $USER)."),
    ] = None,
    name: SessionOpt = "exam",
    offline: Annotated[
        bool,
        typer.Option("--offline", help="No networks: grade the flow files (labs without a controller only)."),
    ] = False,
    json_out: JsonOpt = False,
):
    """Start an exam: your variant of each task, your workspaces, the networks and the clock."""
    import getpass

    from sdnlab.certification import attempt
    from sdnlab.certification.exam import load_exam

    record = load_exam(exam)
    who = trainee or os.environ.get("SUDO_USER") or getpass.getuser()
    started = attempt.start(record, who, _now(), name, seed, "offline" if offline else "live")
    if json_out:
        typer.echo(
            dumps(
                {
                    "attempt": started.id,
                    "exam": record.id,
                    "trainee": who,
                    "session": name,
                    "seed": started.data["seed"],
                    "mode": started.data["mode"],
                    "minutes": record.minutes,
                    "pass_percent": record.pass_percent,
                    "started_at": attempt._iso(started.data["started_at"]),
                    "deadline": attempt._iso(started.data["deadline"]),
                    "tasks": [
                        {"task": index + 1, "lab": task["lab"], "workspace": str(started.workdir(index))}
                        for index, task in enumerate(started.data["tasks"])
                    ],
                }
            )
        )
        return
    typer.echo(
        f"exam {record.id} started for {who}: {record.minutes:g} minutes, pass mark {record.pass_percent:g}%"
    )
    typer.echo(f"attempt {started.id}, seed {started.data['seed']}")
    for index, task in enumerate(started.data["tasks"]):
        typer.echo(f"  task {index + 1}: {task['lab']}  workspace {started.workdir(index)}")
    session = "" if name == "exam" else f" --name {name}"  # the other exam commands need it too
    typer.echo(
        f"next: `sdnlab exam task 1{session}`, `sdnlab exam check 1{session}`, "
        f"`sdnlab exam status{session}`, `sdnlab exam submit{session}`"
    )


@exam_app.command("status")
def exam_status(name: SessionOpt = "exam", json_out: JsonOpt = False):
    """Time left, tasks and their public checks (hidden checks are only counted)."""
    from sdnlab.certification import attempt

    info = attempt.status(attempt.current(name), _now())
    if json_out:
        typer.echo(dumps(info))
        return
    typer.echo(
        f"exam {info['exam']}: {info['title']} ({info['trainee']}, seed {info['seed']}, {info['mode']})"
    )
    if info["reference_run"]:
        typer.echo("REFERENCE RUN: the reference solution was deployed (`sdnlab exam solve`)")
    if info["status"] == "running":
        typer.echo(f"time left: {_minutes(info['seconds_left'])}; pass mark {info['pass_percent']:g}%")
    for task in info["tasks"]:
        typer.echo(f"task {task['task']} ({task['lab']}, weight {task['weight']:g}): {task['title']}")
        typer.echo(f"  workspace: {task['workspace']}")
        for line in task["public_checks"]:
            typer.echo(f"  - {line}")
        typer.echo(f"  + {task['hidden_checks']} hidden check(s), graded at submit")
    if info["status"] == "submitted":
        _print_result(info["result"])


def _print_result(result: dict) -> None:
    typer.echo(
        f"result: {result['percent']:g}% ({'PASSED' if result['passed'] else 'not passed'}; "
        f"pass mark {result['pass_percent']:g}%, "
        f"hints {result['hints_used']} x {result['hint_cost']:g} points)"
    )
    for task in result["tasks"]:
        extra = f"  error: {task['error']}" if task["error"] else ""
        typer.echo(
            f"  task {task['task']} {task['lab']}: {task['percent']:g}% "
            f"({task['checks_passed']}/{task['checks_total']} checks){extra}"
        )
    for skill, level in sorted(result["skills"].items()):
        typer.echo(f"  skill {skill}: level {level}")


@exam_app.command("task")
def exam_task(
    task: Annotated[int, typer.Argument(help="Task number.")],
    name: SessionOpt = "exam",
    lang: LangOpt = None,
    json_out: JsonOpt = False,
):
    """Print a task's text (your variant)."""
    from sdnlab.certification import attempt

    running = attempt._running(attempt.current(name), _now())
    index = attempt._task_index(running, task)
    lang = language(lang)
    text = running.task_lab(index).task_text(lang)
    if json_out:
        typer.echo(
            dumps({"task": task, "lab": running.data["tasks"][index]["lab"], "lang": lang, "text": text})
        )
        return
    typer.echo(text)


@exam_app.command("check")
def exam_check(
    task: Annotated[int, typer.Argument(help="Task number.")],
    name: SessionOpt = "exam",
    json_out: JsonOpt = False,
):
    """Grade a task's public checks (nothing recorded)."""
    from sdnlab.certification import attempt
    from sdnlab.labs.results import render_text

    result = attempt.check(attempt.current(name), task, _now())
    if json_out:
        typer.echo(dumps(result.public_dict()))
    else:
        typer.echo(render_text(result))
    raise typer.Exit(0 if result.passed else 1)


@exam_app.command("hint")
def exam_hint(
    task: Annotated[int, typer.Argument(help="Task number.")],
    name: SessionOpt = "exam",
    lang: LangOpt = None,
    json_out: JsonOpt = False,
):
    """The next hint of a task (when the exam allows hints; each costs points)."""
    from sdnlab.certification import attempt

    index, total, text, cost = attempt.hint(attempt.current(name), task, _now())
    if json_out:
        typer.echo(
            dumps(
                {"task": task, "index": index, "total": total, "text": text.get(language(lang)), "cost": cost}
            )
        )
        return
    typer.echo(f"hint {index}/{total}: {text.get(language(lang))}")
    typer.echo(f"(hints so far cost {cost:g} points)")


@exam_app.command("deploy")
def exam_deploy(
    task: Annotated[int, typer.Argument(help="Task number.")],
    name: SessionOpt = "exam",
    json_out: JsonOpt = False,
):
    """Install a task's workspace (flow files, app, configs) on its network."""
    from sdnlab.certification import attempt

    running = attempt.current(name)
    workspace = attempt.deploy(running, task, _now())
    if json_out:
        typer.echo(dumps({"task": task, "workspace": str(workspace), "mode": running.data["mode"]}))
        return
    typer.echo(f"deployed {workspace}")


@exam_app.command("submit")
def exam_submit(
    name: SessionOpt = "exam",
    certificate: Annotated[
        Path | None, typer.Option("--certificate", help="Also copy the certificate here.")
    ] = None,
    json_out: JsonOpt = False,
):
    """Grade every task (hidden checks too), write the evidence bundle and, if passed, the certificate."""
    from sdnlab.certification import attempt

    done = attempt.submit(attempt.current(name), _now())
    attempt.finish_session(name)
    copied = None
    if certificate is not None and "certificate" in done.data:
        copied = attempt.copy_certificate(done, certificate)
    if json_out:  # one document: the copy is a field, not a line after it
        summary = {k: v for k, v in done.data.items() if k != "tasks"}
        typer.echo(dumps({**summary, "certificate_copy": str(copied)} if copied else summary))
    else:
        if done.data.get("auto_submitted"):
            typer.echo("the time limit had passed: the exam was submitted automatically at the deadline")
        _print_result(done.data["result"])
        typer.echo(f"evidence: {done.data['evidence']['path']}")
        if "certificate" in done.data:
            typer.echo(f"certificate: {done.data['certificate']}")
        elif done.data.get("certificate_error"):
            typer.echo(done.data["certificate_error"])
        if copied:
            typer.echo(f"copied to {copied}")
    raise typer.Exit(0 if done.data["result"]["passed"] else 1)


@exam_app.command("solve")
def exam_solve(name: SessionOpt = "exam", json_out: JsonOpt = False):
    """Instructor: deploy this variant's reference solution (attempt and certificate marked reference)."""
    from sdnlab.certification import attempt

    solved = attempt.solve(attempt.current(name), _now())
    if json_out:
        typer.echo(
            dumps(
                {
                    "attempt": solved.id,
                    "seed": solved.data["seed"],
                    "reference_run": True,
                    "workspaces": [str(solved.workdir(index)) for index in range(len(solved.data["tasks"]))],
                }
            )
        )
        return
    typer.echo(
        f"instructor: reference solutions deployed for attempt {solved.id} (seed {solved.data['seed']}); "
        "marked as a reference run"
    )


@exam_app.command("issue")
def exam_issue(
    attempt_id: Annotated[str, typer.Argument(help="Attempt id (see the attempt folder name).")],
    json_out: JsonOpt = False,
):
    """Instructor: sign a passed attempt's certificate (when the trainee's submit could not reach the key)."""
    from sdnlab.certification import attempt

    path = attempt.issue(attempt.load(attempt.attempts_dir() / attempt_id))
    if json_out:
        typer.echo(dumps({"attempt": attempt_id, "certificate": str(path)}))
        return
    typer.echo(f"wrote {path}")
