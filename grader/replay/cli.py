"""``sdnlab of ...``: look at recorded OpenFlow conversations."""

from __future__ import annotations

from typing import Annotated

import typer

of_app = typer.Typer(help="Recorded OpenFlow conversations (pcapng files).", no_args_is_help=True)


@of_app.command("show")
def show(
    path: Annotated[str, typer.Argument(help="A pcapng/pcap recording (SDNLAB_OF_RECORD, tcpdump -w).")],
    show_all: Annotated[bool, typer.Option("--all", help="Also show echo and barrier messages.")] = False,
) -> None:
    """Print the conversation: each packet-in with the flow-mods and packet-outs that answered it."""
    from sdnlab.grader.replay.pcapng import read_conversation
    from sdnlab.grader.replay.show import render

    typer.echo(render(read_conversation(path), show_all=show_all))


def register(root: typer.Typer, flows: typer.Typer) -> None:
    """Add ``sdnlab of`` to the root command."""
    root.add_typer(of_app, name="of")
