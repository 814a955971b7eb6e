"""Lab runtime commands: up, down, status, exec, cli, clean, flows dump, demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sdnlab.cli_options import JsonOpt, NameOpt, lab_name
from sdnlab.jsonio import dumps
from sdnlab.render import Progress
from sdnlab.render import console as make_console
from sdnlab.runtime import api

UP_EXAMPLES = """Build a topology on Open vSwitch + Mininet and return when every switch is connected.

\b
Examples:
  sdnlab up linear -p switches=3
  sdnlab up smart_meter -p meters=200 --name big
  sdnlab up my_topo.yaml --controller app:my_app.py
  sdnlab up linear -p switches=1 --controller app:qos_app.py --ovsdb
"""


def register(root: typer.Typer, flows: typer.Typer) -> None:
    root.command("up", help=UP_EXAMPLES)(up)
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
    name: NameOpt = None,
    controller: Annotated[
        str, typer.Option(help="builtin | none | remote:HOST:PORT | app:MODULE_OR_FILE[,MORE]")
    ] = "builtin",
    controller_config: Annotated[
        str | None, typer.Option(help="Config file for the builtin controller (routing, chains).")
    ] = None,
    json_out: JsonOpt = False,
    protocols: Annotated[
        str, typer.Option(help="OpenFlow versions the switches offer, e.g. OpenFlow13,OpenFlow14,OpenFlow15.")
    ] = "OpenFlow13",
    observe_links: Annotated[
        bool,
        typer.Option(
            "--observe-links", help="Run link discovery for app: controllers (ryu-manager --observe-links)."
        ),
    ] = False,
    ovsdb: Annotated[
        bool,
        typer.Option(
            "--ovsdb",
            help="Open the switches' OVSDB to the controller on 127.0.0.1:6632 "
            "(ovs-vsctl set-manager ptcp:6632; for rest_qos/rest_conf_switch).",
        ),
    ] = False,
    ovsdb_port: Annotated[
        int | None,
        typer.Option(help="Port for --ovsdb (implies --ovsdb; default 6632).", min=1024, max=65535),
    ] = None,
) -> None:
    from sdnlab.topologies import parse_params

    name = name or api.DEFAULT_NAME  # up creates a lab: no current session to look for
    console = make_console(stderr=True)
    with Progress(f"lab {name}", enabled=not json_out, out=console) as update:
        state = api.up(
            topology,
            parse_params(param),
            name=name,
            controller=controller,
            controller_config=controller_config,
            progress=update,
            protocols=protocols,
            observe_links=observe_links,
            ovsdb=ovsdb_port or (True if ovsdb else None),
        )
    if json_out:
        typer.echo(
            dumps(
                {
                    "name": name,
                    "hosts": len(state.get("hosts", [])),
                    "switches": len(state.get("switches", [])),
                    "ready_s": state.get("ready_s"),
                    "controller": state.get("controller"),
                    "unapplied": state.get("unapplied") or [],
                    "ovsdb": state.get("ovsdb"),
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
        + (f" on {ctl['host']}:{ctl['port']}{rest}" if ctl.get("port") else ""),
        soft_wrap=True,  # addresses and names stay on one line, also when piped
    )
    if state.get("ovsdb"):
        console.print(
            f"[yellow]note: the switches' OVSDB is open to the controller at {state['ovsdb']['address']} "
            "(rest_conf_switch's ovsdb_addr). This Open vSwitch database holds the bridges of every lab "
            "that runs on it (all labs of this machine, unless in a classroom own-ovs sandbox): "
            "whatever connects to it can reconfigure them too. "
            f"It closes at `sdnlab down --name {name}`.[/]",
            soft_wrap=True,
        )
    if state.get("unapplied"):
        props = sorted({p.split("=")[0] for item in state["unapplied"] for p in item["properties"]})
        console.print(
            f"[yellow]note: {', '.join(props)} not applied on {len(state['unapplied'])} link(s): "
            "this kernel has no netem. "
            "Declared values are kept for path-latency computations (`sdnlab status`).[/]",
            soft_wrap=True,
        )


def _count(n: int, noun: str) -> str:
    plural = noun + ("es" if noun.endswith("ch") else "s")
    return f"{n} {noun if n == 1 else plural}"


def down(name: NameOpt = None, json_out: JsonOpt = False) -> None:
    """Stop a lab and remove its namespaces, veths, bridges and processes."""
    name = lab_name(name)
    with Progress(f"lab {name}", enabled=not json_out) as update:
        report = api.down(name, progress=update)
    if json_out:
        typer.echo(dumps(report))
    else:
        typer.echo(f"lab {name} down in {report['down_s']:.1f} s")


def status(name: NameOpt = None, json_out: JsonOpt = False) -> None:
    """Show a running lab: hosts, switches, links, controller, unapplied link properties.

    \b
    Examples:
      sdnlab status                 (your current session)
      sdnlab status --name big --json
    """
    from sdnlab.runtime.render import status_tables

    state = api.status(lab_name(name))
    if json_out:
        typer.echo(dumps(state))
    else:
        status_tables(state, make_console())


def exec_(
    ctx: typer.Context,
    host: Annotated[str, typer.Argument(help="Host to run in.")],
    name: NameOpt = None,
) -> None:
    """Run a command in a host's namespace: sdnlab exec h1 -- ping -c1 10.0.0.2"""
    argv = list(ctx.args)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise typer.BadParameter("give the command after --, e.g. sdnlab exec h1 -- ip addr")
    proc = api.popen_in(lab_name(name), host, argv)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        code = proc.wait()
    raise typer.Exit(code)


def cli(name: NameOpt = None) -> None:
    """Interactive shell over a lab (Mininet-CLI style: `h1 ping h2`, `pingall`)."""
    from sdnlab.runtime.shell import LabShell

    name = lab_name(name)
    api.status(name)
    LabShell(name).cmdloop()


def clean(
    all_labs: Annotated[bool, typer.Option("--all", help="Also stop labs that are still running.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Remove everything dead sdnlab labs left behind (even after kill -9); --all stops running labs too."""
    reports = api.clean(all_labs=all_labs)
    if json_out:
        typer.echo(dumps(reports))
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
    name: NameOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Dump the OpenFlow rules of a lab's switches (ovs-ofctl -O OpenFlow13 dump-flows)."""
    name = lab_name(name)
    flows = api.dump_flows(name, switch)
    if json_out:
        typer.echo(dumps(flows))
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
    from sdnlab.labs.demo import run

    raise typer.Exit(run(lab, make_console()))


def link(
    a: Annotated[str, typer.Argument(help="One end (node name, e.g. s1).")],
    b: Annotated[str, typer.Argument(help="The other end (e.g. s2).")],
    state: Annotated[str, typer.Argument(help="down | up")],
    name: NameOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Take the link between two nodes down or bring it back up (both ends, like a pulled cable)."""
    from sdnlab.runtime import links

    if state not in ("down", "up"):
        raise typer.BadParameter(f"{state!r}: expected down or up")
    name = lab_name(name)
    changed = links.set_link(name, a, b, up=state == "up")
    if json_out:
        typer.echo(dumps({"lab": name, "link": [a, b], "state": state, "interfaces": list(changed)}))
        return
    typer.echo(f"link {a}-{b} {state} ({', '.join(changed)})")


def capture(
    target: Annotated[str, typer.Argument(help="A switch port (s1-eth1) or a host (h1).")],
    name: NameOpt = None,
    write: Annotated[
        Path | None, typer.Option("--write", "-w", help="Write packets to FILE.pcapng (for Wireshark).")
    ] = None,
    count: Annotated[int | None, typer.Option("--count", "-c", help="Stop after N packets.")] = None,
) -> None:
    """Capture packets on a switch port or a host (tcpdump on screen, or pcapng with -w); Ctrl-C stops."""
    import subprocess

    from sdnlab.runtime import links

    argv = links.capture_argv(lab_name(name), target, write, count)
    proc = subprocess.Popen(argv)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        code = proc.wait()
    if write:
        typer.echo(f"wrote {write}", err=True)
    raise typer.Exit(0 if code in (0, -2, -15, 130, 143) else code)
