"""Lab runtime commands: up, down, status, exec, cli, clean, flows dump, demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sdnlab.runtime import api

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Lab name (several labs can run at once).")]


def register(root: typer.Typer, flows: typer.Typer) -> None:
    root.command("up")(up)
    root.command("down")(down)
    root.command("status")(status)
    root.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(exec_)
    root.command("cli")(cli)
    root.command("clean")(clean)
    root.command("demo")(demo)
    root.command("link")(link)
    root.command("capture")(capture)
    flows.command("dump")(dump)


def up(
    topology: Annotated[
        str, typer.Argument(help="Catalogue name (see `sdnlab topo list`) or a topology .yaml file.")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Topology parameter NAME=VALUE (repeatable).")
    ] = None,
    name: NameOpt = api.DEFAULT_NAME,
    controller: Annotated[
        str, typer.Option(help="builtin | none | remote:HOST:PORT | app:MODULE_OR_FILE[,MORE]")
    ] = "builtin",
    controller_config: Annotated[
        str | None, typer.Option(help="Config file for the builtin controller (routing, chains).")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print {name, hosts, switches, ready_s} as JSON.")
    ] = False,
    protocols: Annotated[
        str, typer.Option(help="OpenFlow versions the switches offer, e.g. OpenFlow13,OpenFlow14,OpenFlow15.")
    ] = "OpenFlow13",
) -> None:
    """Build a topology on Open vSwitch + Mininet and return when every switch is connected."""
    from sdnlab.topologies import parse_params

    console = Console(stderr=True)
    progress = None if json_out else (lambda phase: console.print(f"[dim]lab {name}: {phase}[/]"))
    state = api.up(
        topology,
        parse_params(param),
        name=name,
        controller=controller,
        controller_config=controller_config,
        progress=progress,
        protocols=protocols,
    )
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "name": name,
                    "hosts": len(state.get("hosts", [])),
                    "switches": len(state.get("switches", [])),
                    "ready_s": state.get("ready_s"),
                }
            )
        )
        return
    ctl = state["controller"]
    rest = ""
    if ctl.get("rest_port"):
        rest = (
            f" (REST :{ctl['rest_port']})"
            if ctl["mode"] == "builtin"
            else f" (REST :{ctl['rest_port']} if the app serves one)"
        )
    console.print(
        f"lab [bold]{name}[/] ready in {state['ready_s']:.1f} s: {_count(len(state['hosts']), 'host')}, "
        f"{_count(len(state['switches']), 'switch')}, controller {ctl['mode']}"
        + (f" on {ctl['host']}:{ctl['port']}{rest}" if ctl.get("port") else "")
    )
    if state.get("unapplied"):
        props = sorted({p.split("=")[0] for item in state["unapplied"] for p in item["properties"]})
        console.print(
            f"[yellow]note: {', '.join(props)} not applied on {len(state['unapplied'])} link(s): "
            "this kernel has no netem. "
            "Declared values are kept for path-latency computations (`sdnlab status`).[/]"
        )


def _count(n: int, noun: str) -> str:
    plural = noun + ("es" if noun.endswith("ch") else "s")
    return f"{n} {noun if n == 1 else plural}"


def down(name: NameOpt = api.DEFAULT_NAME) -> None:
    """Stop a lab and remove its namespaces, veths, bridges and processes."""
    report = api.down(name)
    typer.echo(f"lab {name} down in {report['down_s']:.1f} s")


JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def status(name: NameOpt = api.DEFAULT_NAME, json_out: JsonOpt = False) -> None:
    """Show a running lab: hosts, switches, links, controller, unapplied link properties."""
    from sdnlab.runtime.render import status_tables

    state = api.status(name)
    if json_out:
        typer.echo(json.dumps(state, indent=1))
    else:
        status_tables(state, Console())


def exec_(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(help="Host to run in.")],
    name: NameOpt = api.DEFAULT_NAME,
) -> None:
    """Run a command in a host's namespace: sdnlab exec h1 -- ping -c1 10.0.0.2"""
    argv = list(ctx.args)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise typer.BadParameter("give the command after --, e.g. sdnlab exec h1 -- ip addr")
    proc = api.popen_in(name, host, argv)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        code = proc.wait()
    raise typer.Exit(code)


def cli(name: NameOpt = api.DEFAULT_NAME) -> None:
    """Interactive shell over a lab (Mininet-CLI style: `h1 ping h2`, `pingall`)."""
    from sdnlab.runtime.shell import LabShell

    api.status(name)
    LabShell(name).cmdloop()


def clean(
    all_labs: Annotated[bool, typer.Option("--all", help="Also stop labs that are still running.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Remove everything dead sdnlab labs left behind (even after kill -9); --all stops running labs too."""
    reports = api.clean(all_labs=all_labs)
    if json_out:
        typer.echo(json.dumps(reports))
        return
    if not reports:
        typer.echo("nothing to clean")
    for r in reports:
        typer.echo(
            f"cleaned {r['name']}: {r['processes']} processes, {len(r['bridges'])} bridges, "
            f"{r['interfaces']} interfaces"
        )


def dump(
    switch: Annotated[str | None, typer.Argument(help="Switch name (default: all).")] = None,
    name: NameOpt = api.DEFAULT_NAME,
    json_out: JsonOpt = False,
) -> None:
    """Dump the OpenFlow rules of a lab's switches (ovs-ofctl -O OpenFlow13 dump-flows)."""
    flows = api.dump_flows(name, switch)
    if json_out:
        typer.echo(json.dumps(flows, indent=1))
        return
    for sw, text in flows.items():
        typer.echo(f"--- {sw} ({api.bridge(name, sw)})")
        typer.echo(text.rstrip())


def demo(
    lab: Annotated[
        str | None, typer.Option(help="Lab to run (default: the catalogue's default lab).")
    ] = None,
) -> None:
    """Run the default lab end to end with its reference solution and print the grade."""
    from sdnlab.demo import run_demo

    code = run_demo(lab)
    raise typer.Exit(code)


def link(
    a: Annotated[str, typer.Argument(help="One end (node name, e.g. s1).")],
    b: Annotated[str, typer.Argument(help="The other end (e.g. s2).")],
    state: Annotated[str, typer.Argument(help="down | up")],
    name: NameOpt = api.DEFAULT_NAME,
) -> None:
    """Take the link between two nodes down or bring it back up (both ends, like a pulled cable)."""
    from sdnlab.runtime import links

    if state not in ("down", "up"):
        raise typer.BadParameter(f"{state!r}: expected down or up")
    changed = links.set_link(name, a, b, up=state == "up")
    typer.echo(f"link {a}-{b} {state} ({', '.join(changed)})")


def capture(
    target: Annotated[str, typer.Argument(help="A switch port (s1-eth1) or a host (h1).")],
    name: NameOpt = api.DEFAULT_NAME,
    write: Annotated[
        Path | None, typer.Option("--write", "-w", help="Write packets to FILE.pcapng (for Wireshark).")
    ] = None,
    count: Annotated[int | None, typer.Option("--count", "-c", help="Stop after N packets.")] = None,
) -> None:
    """Capture packets on a switch port or a host (tcpdump on screen, or pcapng with -w); Ctrl-C stops."""
    import subprocess

    from sdnlab.runtime import links

    argv = links.capture_argv(name, target, write, count)
    proc = subprocess.Popen(argv)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        code = proc.wait()
    if write:
        typer.echo(f"wrote {write}", err=True)
    raise typer.Exit(0 if code in (0, -2, -15, 130, 143) else code)
