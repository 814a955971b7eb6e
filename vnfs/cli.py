"""``sdnlab vnf ...``: run, status, stop, reload and test VNFs (a thin layer over vnfs.manage
and vnfs.framework.offline)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sdnlab.cli_options import JsonOpt, NameOpt, lab_name
from sdnlab.jsonio import dumps
from sdnlab.vnfs.kinds import kinds_help

vnf_app = typer.Typer(
    help="Run VNFs in a lab's hosts, or test them offline on captures.", no_args_is_help=True
)


def register(root: typer.Typer, flows: typer.Typer) -> None:
    """Add the ``vnf`` command group."""
    root.add_typer(vnf_app, name="vnf")


def _ports(items: list[str] | None) -> dict[str, str] | None:
    from sdnlab.vnfs.errors import VnfOptionError

    if not items:
        return None
    ports = {}
    for item in items:
        name, _, ifname = item.partition("=")
        if not name or not ifname:
            raise VnfOptionError(f"--port {item!r}: expected NAME=IFACE, such as inside=h3-eth0")
        ports[name] = ifname
    return ports


@vnf_app.command("run")
def run(
    kind: Annotated[
        str,
        typer.Argument(help=f"{kinds_help()}, or a researcher's .py file."),
    ],
    host: Annotated[str, typer.Option("--host", help="Lab host to run in.")],
    config: Annotated[str | None, typer.Option("--config", "-c", help="YAML config file.")] = None,
    name: NameOpt = None,
    vnf_name: Annotated[
        str | None, typer.Option("--vnf", help="Instance name (default: the host name).")
    ] = None,
    port: Annotated[
        list[str] | None,
        typer.Option(
            "--port",
            help="NAME=IFACE (repeatable); default: first two interfaces as inside/outside, or one-armed.",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=16, help="Worker processes (PACKET_FANOUT hash).")] = 1,
    mode: Annotated[
        str,
        typer.Option(
            help="recv (a system call per frame), rxring (TPACKET_V3 receive ring), "
            "txring (TPACKET_V2 transmit ring) or ring (both)."
        ),
    ] = "recv",
    json_out: JsonOpt = False,
):
    """Start a VNF inside a running lab's host; lab down stops it.

    \b
    Examples:
      sdnlab vnf run firewall --host fw1 --config fw.yaml
      sdnlab vnf run chain --host fw1 --config chain.yaml --workers 2
      sdnlab vnf run my_vnf.py --host h3 --port inside=h3-eth0
    """
    from sdnlab.vnfs import manage

    name = lab_name(name)
    info = manage.start(name, kind, host, config, vnf_name, _ports(port), workers, mode)
    if json_out:
        typer.echo(dumps(info))
    else:
        ports = ", ".join(f"{k}={v}" for k, v in info["ports"].items())
        typer.echo(
            f"VNF {info['name']} ({kind}) runs in {host} of lab {name}: pid {info['pid']}, ports {ports}"
        )


@vnf_app.command("status")
def status(
    vnf: Annotated[str | None, typer.Argument(help="One VNF instance (default: all).")] = None,
    name: NameOpt = None,
    json_out: JsonOpt = False,
):
    """Show the lab's VNFs and their counters."""
    from rich.console import Console
    from rich.table import Table

    from sdnlab.vnfs import manage

    name = lab_name(name)
    rows = manage.status(name, vnf)
    if json_out:
        typer.echo(dumps(rows))
        return
    if not rows:
        typer.echo(f"lab {name} runs no VNFs")
        return
    table = Table()
    table.add_column("vnf", no_wrap=True)  # names stay whole (chain stages are CHAIN/STAGE)
    for heading in ("kind", "host", "state", "packets", "forwarded", "dropped", "errors"):
        table.add_column(heading, no_wrap=heading == "state")
    table.add_column("port rx/tx", overflow="fold")
    for row in rows:
        counters = row["stats"].get("counters", {})
        ports = "\n".join(
            f"{p} {c.get('rx', 0)}/{c.get('tx', 0)}" for p, c in row["stats"].get("ports", {}).items()
        )
        table.add_row(
            row["name"],
            row["kind"],
            row["host"],
            row.get("state", "running" if row["running"] else "stopped"),
            str(counters.get("packets", 0)),
            str(counters.get("forwarded", 0)),
            str(counters.get("dropped", 0)),
            str(row.get("handler_errors", 0)),
            ports,
        )
        for stage, stats in row["stats"].get("stages", {}).items():  # a chain VNF: one line per stage
            counters = stats.get("counters", {})
            table.add_row(
                f"  {row['name']}/{stage}",
                "stage",
                "",
                "",
                str(counters.get("packets", 0)),
                str(counters.get("forwarded", 0)),
                str(counters.get("dropped", 0)),
                str(counters.get("handler_errors", 0)),
                "",
            )
    Console().print(table)
    for row in rows:  # what the table cannot show: why a VNF is stuck, its last error, stale code
        if row.get("state") == "stuck":
            typer.echo(
                f"{row['name']}: stuck: worker(s) {', '.join(map(str, row['stuck_workers']))} stopped "
                f"reporting {row['silent_s']:.0f} s ago (a loop in its code?); stop it and start it again"
            )
        if row.get("last_error"):
            typer.echo(f"{row['name']}: last error: {row['last_error']}")
        if row.get("code_changed"):
            typer.echo(
                f"{row['name']}: its .py file changed since it started; restart it to run the new code"
            )
    for row in rows:
        sections = [(row["name"], row["stats"])] + [
            (f"{row['name']}/{stage}", stats) for stage, stats in row["stats"].get("stages", {}).items()
        ]
        for label, stats in sections:
            for section in ("rules", "backends"):
                if section in stats:
                    typer.echo(f"{label} {section}: {json.dumps(stats[section])}")


@vnf_app.command("stop")
def stop(
    vnf: Annotated[str, typer.Argument(help="VNF instance name.")],
    name: NameOpt = None,
    json_out: JsonOpt = False,
):
    """Stop one VNF (SIGTERM, then SIGKILL)."""
    from sdnlab.vnfs import manage

    name = lab_name(name)
    manage.stop(name, vnf)
    if json_out:
        typer.echo(dumps({"lab": name, "vnf": vnf, "stopped": True}))
    else:
        typer.echo(f"VNF {vnf} of lab {name} stopped")


@vnf_app.command("reload")
def reload(
    vnf: Annotated[str, typer.Argument(help="VNF instance name.")],
    name: NameOpt = None,
    json_out: JsonOpt = False,
):
    """Re-read the VNF's config file without restarting it: the file is checked first (a bad one
    is reported with file:line and the VNF keeps its config), then the VNF is signalled (SIGHUP)."""
    from sdnlab.vnfs import manage

    name = lab_name(name)
    info = manage.reload(name, vnf)
    if json_out:
        typer.echo(dumps({"lab": name, "vnf": vnf, **info}))
    elif info["confirmed"]:
        typer.echo(f"VNF {vnf} of lab {name} reloaded {info['config']}")
        if info.get("code_changed"):
            typer.echo(
                f"note: {info.get('kind_path')} changed since the VNF started; reload applies the config "
                "only: stop and start the VNF to run the new code"
            )
    else:
        typer.echo(
            f"VNF {vnf} of lab {name}: {info['config']} is valid; reload requested (not yet confirmed "
            "in its log)"
        )


@vnf_app.command("test")
def test(
    vnf: Annotated[str, typer.Argument(help="A .py file defining a VNF subclass, or a built-in kind.")],
    pcap: Annotated[str, typer.Option("--pcap", help="Input capture (pcap or pcapng, Ethernet).")],
    out: Annotated[
        str | None, typer.Option("--out", help="Write the frames the VNF emits here (pcap).")
    ] = None,
    config: Annotated[str | None, typer.Option("--config", "-c", help="YAML config file.")] = None,
    in_port: Annotated[
        str | None, typer.Option("--in-port", help="Logical ingress port (default: the first).")
    ] = None,
    json_out: JsonOpt = False,
):
    """Run a VNF offline over a capture and report what it did to each packet."""
    from sdnlab.vnfs.framework.config import load_yaml
    from sdnlab.vnfs.framework.loader import build_vnf, load_vnf_class
    from sdnlab.vnfs.framework.offline import run_capture

    cls = load_vnf_class(vnf)
    instance = build_vnf(cls, load_yaml(config) if config else None, source=config or "<config>")
    result = run_capture(instance, pcap, out, in_port)
    if json_out:
        typer.echo(dumps(result.to_dict()))
        return
    typer.echo(
        f"{result.packets} packets: {result.forwarded} forwarded ({result.rewritten} rewritten), "
        f"{result.dropped} dropped, {result.extra_frames} extra frames emitted"
    )
    if result.drop_reasons:
        typer.echo("dropped because: " + _tally(result.drop_reasons))
    tagged = result.reasons - result.drop_reasons
    if tagged:
        typer.echo("forwarded with tags: " + _tally(tagged))
    if out:
        typer.echo(f"wrote {out}")


def _tally(counts) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
