"""``sdnlab dpi``: classify the flows of a capture offline.

Everything printed from a capture (metadata comes from packet payloads) goes through
``printable``: it is shown as text, never as rich markup, with control characters escaped, so a
crafted URL or host name can neither break the table nor reach the terminal as escape codes.
A capture that ends inside a record is classified up to the cut and the cut is a warning on
stderr (exit code 0); if not even one record is complete it is an error (exit code 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from sdnlab.render import plain
from sdnlab.render import table as render_table
from sdnlab.vnfs import packet as pk
from sdnlab.vnfs.dpi.classify import Limits
from sdnlab.vnfs.dpi.engine import DpiConfig
from sdnlab.vnfs.dpi.offline import classify_capture
from sdnlab.vnfs.pcapio import display_name

app = typer.Typer(help="Deep packet inspection: classify flows by payload.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Deep packet inspection: classify flows by payload (app names as nDPI spells them)."""


def register(root: typer.Typer, flows: typer.Typer) -> None:
    """Add the ``dpi`` command group to the root CLI."""
    root.add_typer(app, name="dpi")


def printable(value: object) -> Text:
    """``value`` as plain rich text (no markup) with control characters escaped (``\\x1b``)."""
    return plain(str(value).replace("\n", "\\n"))


def _dns_servers(values: list[str] | None) -> list[str]:
    """Check each ``--dns-server`` is an IP address (a typo would otherwise flag every resolver)."""
    for value in values or ():
        try:
            pk.ip_value(value)
        except pk.PacketError:
            raise typer.BadParameter(f"{value!r} is not an IPv4 or IPv6 address") from None
    return values or []


@app.command()
def classify(
    pcap: Annotated[Path, typer.Argument(help="A pcap or pcapng capture.")],
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON record per flow (JSON Lines; errors as JSON too).")
    ] = False,
    no_port_guess: Annotated[
        bool,
        typer.Option(
            "--no-port-guess", help="Say Unknown instead of guessing the app from a well-known port."
        ),
    ] = False,
    dns_server: Annotated[
        list[str] | None,
        typer.Option(
            "--dns-server",
            help="An allowed DNS resolver (repeatable); DNS to others is flagged.",
            callback=_dns_servers,
        ),
    ] = None,
    risks: Annotated[
        bool, typer.Option("--risks", help="Also print the risk events (as JSON lines with --json).")
    ] = False,
):
    """Classify every flow of a capture; the app names are spelled as nDPI spells them.

    \b
    Examples:
      sdnlab dpi classify capture.pcap
      sdnlab dpi classify capture.pcapng --json --risks | jq .app
      sdnlab dpi classify capture.pcap --dns-server 10.0.0.53
    """
    config = DpiConfig(
        max_records=None, limits=Limits(port_guess=not no_port_guess), dns_servers=frozenset(dns_server or ())
    )
    result = classify_capture(pcap, config)
    if result.truncation is not None and result.packets == 0:
        raise result.truncation  # nothing could be read: an error, not a warning
    records, events = result.records, result.risks
    if json_out:
        for record in records:
            typer.echo(record.json_line())
        if risks:
            for event in events:
                typer.echo(json.dumps({"risk": event.to_json()}))
    else:
        # addresses stay whole (they are what one filters on next); metadata folds, never cut
        table = render_table(
            "proto",
            "client",
            "server",
            "app",
            "metadata",
            "packets",
            "bytes",
            "risks",
            whole=("client", "server"),
        )
        table.title = printable(f"{display_name(pcap.name)}: {len(records)} flows")
        for r in records:
            app_text = r.app if r.confidence in ("dpi", "") else f"{r.app} ({r.confidence})"
            metadata = ", ".join(f"{k}={v}" for k, v in r.metadata.items())
            table.add_row(
                r.proto,
                f"{r.src}:{r.sport}",
                f"{r.dst}:{r.dport}",
                printable(app_text),
                printable(metadata),
                str(r.packets),
                str(r.bytes),
                ",".join(r.risks),
            )
        console = Console()
        console.print(table)
        if risks:
            for event in events:
                console.print(
                    Text.assemble((event.kind, "bold red"), " ", printable(f"{event.host} {event.detail}"))
                )
    if result.truncation is not None:
        typer.echo(
            f"sdnlab: warning: {result.truncation}; classified the {result.packets} complete "
            f"record{'s' if result.packets != 1 else ''} before it",
            err=True,
        )
