"""``sdnlab topo``: list, show, validate and draw topologies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sdnlab import render
from sdnlab.cli_options import JsonOpt
from sdnlab.jsonio import dumps
from sdnlab.topologies import catalogue, load_topology, parse_params

app = typer.Typer(
    help="""Declarative topologies: list, show, validate, draw.

\b
Examples:
  sdnlab topo list
  sdnlab topo show smart_meter -p meters=200
  sdnlab topo validate my_topo.yaml --json
  sdnlab topo draw camera_4k -o camera.svg""",
    no_args_is_help=True,
)
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="Parameter NAME=VALUE (repeatable).")
]


def register(root: typer.Typer, flows: typer.Typer) -> None:
    root.add_typer(app, name="topo")


def _summary(text: str, limit: int = 60) -> str:
    first = text.split(". ")[0].split(": ")[0].strip().rstrip(".")
    return first if len(first) <= limit else first[: limit - 3].rstrip() + "..."


@app.command("list")
def list_(json_out: JsonOpt = False):
    """List the catalogue topologies with their parameters."""
    rows: list[dict[str, Any]] = []
    for name in catalogue():
        topo = load_topology(name)
        rows.append(
            {
                "name": name,
                "description": _summary(topo.description),
                "parameters": {
                    p.name: {
                        "default": p.default,
                        "min": p.minimum,
                        "max": p.maximum,
                        "description": p.description,
                    }
                    for p in topo.parameters
                },
                "hosts": len(topo.hosts()),
                "switches": len(topo.switches()),
            }
        )
    if json_out:
        typer.echo(dumps(rows))
        return
    table = render.table("topology", "parameters (default)", "size at defaults", "about", whole=("topology",))
    for r in rows:
        params = ", ".join(f"{k}={v['default']}" for k, v in r["parameters"].items())
        table.add_row(
            r["name"], params, f"{r['hosts']} hosts, {r['switches']} switches", render.plain(r["description"])
        )
    render.console().print(table)


@app.command()
def show(
    topology: Annotated[str, typer.Argument(help="Catalogue name or .yaml file.")],
    param: ParamOpt = None,
    json_out: JsonOpt = False,
):
    """Show nodes, links and addresses of a topology."""
    topo = load_topology(topology, parse_params(param))
    if json_out:
        typer.echo(dumps(topo.to_dict()))
        return
    console = render.console()
    console.print(render.plain(f"{topo.name} {topo.params}  subnet {topo.subnet}", "bold"))
    if topo.description:
        console.print(render.plain(topo.description))
    nodes = render.table(
        "node",
        "kind",
        "roles",
        "dpid / ip",
        "mac",
        title=f"nodes ({len(topo.nodes)})",
        whole=("node", "dpid / ip", "mac"),
    )
    for node in topo.nodes.values():
        nodes.add_row(
            node.name,
            node.kind,
            ",".join(node.roles),
            str(node.dpid) if node.is_switch else (node.ip or "-"),
            node.mac or "",
        )
    console.print(nodes)
    links = render.table(
        "a:port",
        "b:port",
        "bw",
        "delay",
        "loss",
        title=f"links ({len(topo.links)})",
        whole=("a:port", "b:port"),
    )
    for link in topo.links:
        links.add_row(
            f"{link.a}:{link.a_port}",
            f"{link.b}:{link.b_port}",
            f"{link.bw_mbit:g} Mbit/s" if link.bw_mbit else "-",
            f"{link.delay_ms:g} ms" if link.delay_ms else "-",
            f"{link.loss_pct:g} %" if link.loss_pct else "-",
        )
    console.print(links)


@app.command()
def validate(
    file: Annotated[str, typer.Argument(help="Topology .yaml file (or catalogue name).")],
    param: ParamOpt = None,
    json_out: JsonOpt = False,
):
    """Check a topology file; errors name the file, line and field."""
    topo = load_topology(file, parse_params(param))
    if json_out:
        typer.echo(
            dumps(
                {
                    "file": file,
                    "valid": True,
                    "hosts": len(topo.hosts()),
                    "switches": len(topo.switches()),
                    "links": len(topo.links),
                }
            )
        )
        return
    typer.echo(
        f"{file}: valid: {len(topo.hosts())} hosts, {len(topo.switches())} switches, {len(topo.links)} links"
    )


@app.command()
def draw(
    topology: Annotated[str, typer.Argument(help="Catalogue name or .yaml file.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file: .svg, .png or .dot")],
    param: ParamOpt = None,
    json_out: JsonOpt = False,
):
    """Draw a topology: roles as shapes and colours, link capacities labelled."""
    from sdnlab.topologies.draw import render as draw_topology

    topo = load_topology(topology, parse_params(param))
    draw_topology(topo, output)
    if json_out:
        typer.echo(dumps({"topology": topo.name, "output": str(output)}))
    else:
        typer.echo(f"wrote {output}")
