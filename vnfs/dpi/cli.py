"""``sdnlab dpi``: classify the flows of a capture offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from sdnlab.vnfs.dpi.classify import Limits
from sdnlab.vnfs.dpi.engine import DpiConfig
from sdnlab.vnfs.dpi.offline import classify_pcap

app = typer.Typer(help="Deep packet inspection: classify flows by payload.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Deep packet inspection: classify flows by payload (app names as nDPI spells them)."""


def register(root: typer.Typer, flows: typer.Typer) -> None:
    """Add the ``dpi`` command group to the root CLI."""
    root.add_typer(app, name="dpi")


@app.command()
def classify(
    pcap: Annotated[Path, typer.Argument(help="A pcap or pcapng capture.")],
    json_out: Annotated[bool, typer.Option("--json", help="One JSON record per flow (JSON lines).")] = False,
    no_port_guess: Annotated[bool, typer.Option("--no-port-guess",
                                                help="Say Unknown instead of guessing the app from a well-known port.")] = False,
    dns_server: Annotated[Optional[list[str]], typer.Option("--dns-server",
                                                            help="An allowed DNS resolver (repeatable); DNS to others is flagged.")] = None,
    risks: Annotated[bool, typer.Option("--risks", help="Also print the risk events (as JSON lines with --json).")] = False,
):
    """Classify every flow of a capture; the app names are spelled as nDPI spells them."""
    config = DpiConfig(max_records=None, limits=Limits(port_guess=not no_port_guess),
                       dns_servers=frozenset(dns_server or ()))
    records, events = classify_pcap(pcap, config)
    if json_out:
        for record in records:
            typer.echo(record.json_line())
        if risks:
            for event in events:
                typer.echo(json.dumps({"risk": event.to_json()}))
        return
    table = Table("proto", "client", "server", "app", "metadata", "packets", "bytes", "risks",
                  title=f"{pcap.name}: {len(records)} flows", title_justify="left")
    for r in records:
        app_text = r.app if r.confidence in ("dpi", "") else f"{r.app} ({r.confidence})"
        metadata = ", ".join(f"{k}={v}" for k, v in r.metadata.items())
        table.add_row(r.proto, f"{r.src}:{r.sport}", f"{r.dst}:{r.dport}", app_text, metadata[:60],
                      str(r.packets), str(r.bytes), ",".join(r.risks))
    console = Console()
    console.print(table)
    if risks:
        for event in events:
            console.print(f"[bold red]{event.kind}[/] {event.host} {event.detail}")
