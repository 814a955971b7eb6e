"""``sdnlab of ...``: look at recorded OpenFlow conversations."""

from __future__ import annotations

from typing import Annotated

import typer

from sdnlab.cli_options import JsonOpt
from sdnlab.jsonio import dumps

of_app = typer.Typer(help="Recorded OpenFlow conversations (pcapng files).", no_args_is_help=True)


@of_app.command("show")
def show(
    path: Annotated[str, typer.Argument(help="A pcapng/pcap recording (SDNLAB_OF_RECORD, tcpdump -w).")],
    show_all: Annotated[bool, typer.Option("--all", help="Also show echo and barrier messages.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Print the conversation: each packet-in with the flow-mods and packet-outs that answered it."""
    from sdnlab.grader.replay.pcapng import read_conversation
    from sdnlab.grader.replay.show import render

    records = read_conversation(path)
    if json_out:  # one record per message: what a script needs to follow the conversation
        rows = [
            {
                "time": r.time,
                "switch": list(r.switch),
                "dpid": r.dpid,
                "direction": r.direction,
                "version": r.version,
                "msg_type": r.msg_type,
                "site": r.site,
                "data_hex": r.data.hex(),
            }
            for r in records
        ]
        typer.echo(dumps(rows))
        return
    typer.echo(render(records, show_all=show_all))


@of_app.command("replay")
def replay(
    app: Annotated[str, typer.Argument(help="The controller app to grade: a .py file or a module name.")],
    lab: Annotated[str, typer.Option(help="The lab folder (its lab.yaml gives topology and behaviours).")],
    record_dir: Annotated[
        str | None, typer.Option(help="Write each scenario's conversation to DIR/<scenario>.pcapng.")
    ] = None,
    port: Annotated[int, typer.Option(help="First local OpenFlow port to use (one per scenario).")] = 6850,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Grade a controller app against simulated switches (no Mininet, no OVS); exit 1 if it fails."""
    import json
    from pathlib import Path

    from sdnlab.grader.replay.errors import ReplayError
    from sdnlab.grader.replay.grade import replay_app

    if record_dir is not None:  # made up front, like other output folders (lab render -o)
        try:
            Path(record_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReplayError(
                f"--record-dir {record_dir}: cannot create the folder: {exc.strerror}"
            ) from None
    report = replay_app(app, lab, of_port=port, record_dir=record_dir)
    typer.echo(json.dumps(report.to_dict(), indent=2) if json_out else report.summary())
    if not report.passed:
        raise typer.Exit(1)


def register(root: typer.Typer, flows: typer.Typer) -> None:
    """Add ``sdnlab of`` to the root command."""
    root.add_typer(of_app, name="of")
