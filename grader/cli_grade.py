"""``sdnlab grade``: parse the options, call ``grader.api.grade_lab``, render the report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sdnlab.cli_options import JsonOpt, LangOpt, lab_name, language
from sdnlab.grader.errors import OutputFileError, SpecError


def _link(text: str) -> tuple[str, str]:
    a, sep, b = text.partition("-")
    if not sep or not a or not b:
        raise SpecError(f"--down {text!r}: expected A-B (two node names)")
    return a, b


def _check_writable(path: Path) -> None:
    """Fail before grading (which may take minutes live) when ``--junit`` cannot be written."""
    if path.is_dir():
        raise OutputFileError(f"--junit {path}: is a directory (give a file name, e.g. {path / 'grade.xml'})")
    if not path.parent.is_dir():
        raise OutputFileError(f"--junit {path}: directory {path.parent} does not exist")


def grade_command(
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            "-n",
            help="running lab to grade (default: your current session, unless --flows is given)",
            show_default=False,
        ),
    ] = None,
    spec: Annotated[
        Path | None, typer.Option("--spec", help="behaviour spec YAML (see docs/grader.md)")
    ] = None,
    flows: Annotated[
        Path | None,
        typer.Option("--flows", help="directory of saved dumps (<switch>.flows/.groups/.ports or .json)"),
    ] = None,
    topology: Annotated[
        str | None, typer.Option("--topology", help="topology name or file (for --flows)")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="topology parameter k=v (repeatable)")
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            help="reference solution: DIR of dumps, lab:NAME (running) "
            "or app:MODULE (run in a temporary lab)",
        ),
    ] = None,
    live: Annotated[
        bool,
        typer.Option("--live/--static", help="also confirm verdicts with probe packets in the running lab"),
    ] = False,
    down: Annotated[
        list[str] | None,
        typer.Option(
            "--down",
            help="grade with this link down, as A-B (repeatable); "
            "with --live it must really be down in the lab now",
        ),
    ] = None,
    include_hidden: Annotated[
        bool,
        typer.Option(
            "--hidden/--no-hidden",
            "--include-hidden",
            help="include hidden (instructor-only) behaviours; off by default",
        ),
    ] = False,
    as_json: JsonOpt = False,
    lang: LangOpt = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="also write a JUnit XML report to this file")
    ] = None,
) -> None:
    """Grade flow rules against expected behaviours (static symbolic check, optional live confirmation)."""
    from sdnlab.grader.api import grade_lab
    from sdnlab.topologies import parse_params

    links = [_link(text) for text in down or []]
    if junit is not None:
        _check_writable(junit)
    if flows is None and name is None:
        name = lab_name(None)  # the trainee's current session
    report = grade_lab(
        topology,
        name=name,
        flows=flows,
        spec=spec,
        params=parse_params(param) if param else None,
        reference=reference,
        live=live,
        down=links,
        include_hidden=include_hidden,
    )
    if junit is not None:
        try:
            junit.write_text(report.to_junit_xml())
        except OSError as exc:
            raise OutputFileError(
                f"--junit {junit}: cannot write the JUnit report: {exc.strerror or exc}"
            ) from None
    if as_json:
        typer.echo(report.to_json())
    else:
        report.render_rich(lang=language(lang))
    if not report.passed:
        raise typer.Exit(1)
