"""Grader commands: ``sdnlab flows trace`` and ``sdnlab grade`` (thin layer over the library)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sdnlab.grader.errors import InputFileError


def _read(path: Path, what: str) -> str:
    from sdnlab.grader.files import read_text

    return read_text(path, what, InputFileError)


def trace(
    flows_file: Annotated[
        Path | None, typer.Option("--flows", help="dump-flows (or add-flows) text of one switch")
    ] = None,
    packet: Annotated[
        str | None,
        typer.Option(
            "--packet", help="one packet in ovs flow syntax, e.g. 'in_port=1,tcp,nw_dst=10.0.0.2,tp_dst=80'"
        ),
    ] = None,
    packets: Annotated[Path | None, typer.Option("--packets", help="file with one packet per line")] = None,
    groups_file: Annotated[Path | None, typer.Option("--groups", help="dump-groups text")] = None,
    ports_file: Annotated[
        Path | None,
        typer.Option("--ports", help="dump-ports-desc text (FLOOD/ALL targets, port liveness)"),
    ] = None,
    switch: Annotated[
        str | None, typer.Option("--switch", help="instead of files: a switch of a running lab")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="the running lab for --switch")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (one list entry per packet)")] = False,
) -> None:
    """Trace packets through one switch's flow tables, like ovs-appctl ofproto/trace."""
    from sdnlab.grader.model import SwitchState
    from sdnlab.grader.ofctl_text import parse_flows, parse_groups, parse_ports
    from sdnlab.grader.trace import describe_result, trace_packets

    if (packet is None) == (packets is None):
        raise typer.BadParameter("give exactly one of --packet or --packets")
    if (flows_file is None) == (switch is None):
        raise typer.BadParameter("give exactly one of --flows FILE or --switch NAME (of a running lab)")
    if switch is not None:
        from sdnlab.grader import collect

        bridges = collect.lab_bridges(name)
        if switch not in bridges:
            raise InputFileError(
                f"lab {name!r} has no switch {switch!r} (switches: {', '.join(sorted(bridges))})"
            )
        state = collect.from_bridges({switch: bridges[switch]})[switch]
    else:
        state = SwitchState(
            name=flows_file.stem,
            flows=parse_flows(_read(flows_file, "flows"), str(flows_file)),
            groups=parse_groups(_read(groups_file, "groups"), str(groups_file)) if groups_file else {},
            ports=parse_ports(_read(ports_file, "ports"), str(ports_file)) if ports_file else {},
        )
    if packet is not None:
        specs, source = [(1, packet)], "--packet"
    else:
        lines = _read(packets, "packets").splitlines()
        specs = [
            (n, l.strip())
            for n, l in enumerate(lines, start=1)
            if l.strip() and not l.strip().startswith("#")
        ]
        source = str(packets)
    results = trace_packets(state, specs, source=source)
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    else:
        typer.echo("\n".join(describe_result(r) for r in results))


def register(root: typer.Typer, flows: typer.Typer) -> None:
    """Add ``grade`` to the root and ``trace`` to ``sdnlab flows``."""
    from sdnlab.grader.cli_grade import grade_command

    flows.command("trace")(trace)
    root.command("grade")(grade_command)
