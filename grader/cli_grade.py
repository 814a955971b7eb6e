"""``sdnlab grade``: collect flow state, judge the spec, render the report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from sdnlab.grader.errors import CollectError, SpecError


def _topology(topology: str | None, params: list[str], name: str | None):
    from sdnlab.grader import collect
    from sdnlab.topologies import load_topology, parse_params

    if topology:
        return load_topology(topology, parse_params(params) if params else {})
    if name:
        return collect.lab_topology(name)
    raise CollectError("grading saved flows needs --topology (catalogue name or file), or --name of a running lab")


def grade_command(
    name: Annotated[Optional[str], typer.Option("--name", help="running lab to grade (default: 'default' unless --flows is given)")] = None,
    spec: Annotated[Optional[Path], typer.Option("--spec", help="behaviour spec YAML (see docs/grader.md)")] = None,
    flows: Annotated[Optional[Path], typer.Option("--flows", help="directory of saved dumps (<switch>.flows/.groups/.ports or .json)")] = None,
    topology: Annotated[Optional[str], typer.Option("--topology", help="topology name or file (for --flows)")] = None,
    param: Annotated[Optional[list[str]], typer.Option("--param", help="topology parameter k=v (repeatable)")] = None,
    reference: Annotated[Optional[str], typer.Option("--reference", help="reference solution: DIR of dumps, lab:NAME (running) or app:MODULE (run in a temporary lab)")] = None,
    live: Annotated[bool, typer.Option("--live/--static", help="also confirm verdicts with probe packets in the running lab")] = False,
    down: Annotated[Optional[list[str]], typer.Option("--down", help="with --live: a link that is down in the lab now, as A-B (repeatable)")] = None,
    include_hidden: Annotated[bool, typer.Option("--hidden/--no-hidden", help="include hidden (instructor) behaviours")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    junit: Annotated[Optional[Path], typer.Option("--junit", help="also write a JUnit XML report to this file")] = None,
) -> None:
    """Grade flow rules against expected behaviours (static symbolic check, optional live confirmation)."""
    from dataclasses import replace

    from sdnlab.grader import collect
    from sdnlab.grader.grading import grade
    from sdnlab.grader.spec import load_spec

    if flows is None and name is None:
        name = "default"
    topo = _topology(topology, param or [], name if flows is None or not topology else None)
    state = collect.from_dir(flows) if flows is not None else collect.from_lab(name)
    behaviours = load_spec(spec) if spec else ()
    if not behaviours and reference is None:
        raise SpecError("nothing to grade: give --spec FILE and/or --reference DIR")
    report = grade(topo, state, behaviours, include_hidden=include_hidden)
    if reference is not None:
        from sdnlab.grader.refdiff import collect_reference, reference_diff

        diffs = reference_diff(topo, state, collect_reference(reference, topo))
        report = replace(report, reference=tuple(d.describe() for d in diffs) or ("matches the reference on every host pair and class",))
    if live:
        if name is None:
            raise CollectError("--live needs a running lab (--name)")
        from sdnlab.grader.live import confirm

        links = []
        for text in down or []:
            a, sep, b = text.partition("-")
            if not sep or not a or not b:
                raise SpecError(f"--down {text!r}: expected A-B (two node names)")
            links.append((a, b))
        report = confirm(name, topo, state, behaviours, report, down=links)
    if junit is not None:
        junit.write_text(report.to_junit_xml())
    if as_json:
        typer.echo(report.to_json())
    else:
        report.render_rich()
    if not report.passed:
        raise typer.Exit(1)
