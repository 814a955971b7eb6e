"""Human renderings of lab state (rich tables); JSON output is the state dict itself."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape

from sdnlab.render import plain, table


def status_tables(state: dict[str, Any], console: Console) -> None:
    """The status of a lab as tables (switches, hosts) and notes; names and addresses stay whole."""
    ctl = state.get("controller") or {}
    where = f" {ctl.get('host')}:{ctl.get('port')}" if ctl.get("port") else ""
    alive = "" if "alive" not in ctl else (" (running)" if ctl["alive"] else " (NOT running)")
    if ctl.get("restarts"):
        alive += f" (restarted {ctl['restarts']}x, last {ctl.get('last_restart', '?')})"
    console.print(
        f"[bold]lab {escape(str(state['name']))}[/]: topology [cyan]{escape(str(state.get('topology')))}[/] "
        f"{escape(str(state.get('params') or ''))}  "
        f"phase {state.get('phase')}  controller {ctl.get('mode')}{where}{alive}"
        + (f"  REST :{ctl['rest_port']}" if ctl.get("rest_port") else ""),
        soft_wrap=True,
    )
    if state.get("links_down"):
        down = ", ".join("-".join(pair) for pair in state["links_down"])
        console.print(f"[yellow]links down:[/] {down} (`sdnlab link A B up` brings one back)")
    if state.get("ovsdb"):
        console.print(
            f"[yellow]OVSDB open to the controller:[/] {state['ovsdb'].get('address')} "
            "(shared by every lab on this Open vSwitch)"
        )
    queues = state.get("queues") or {}
    if queues.get("filters") or queues.get("skipped"):
        devices = sorted({f["device"] for f in queues.get("filters", [])})
        console.print(
            f"queues: {len(queues.get('filters', []))} tc filter(s) mirror set_queue flows"
            + (f" on {', '.join(devices)}" if devices else ""),
            soft_wrap=True,
        )
        for item in queues.get("skipped", [])[:10]:
            console.print(plain(f"  no filter for {item['flow']}: {item['reason']}"), highlight=False)
    if state.get("problem"):
        console.print(f"[bold red]problem:[/] {escape(state['problem'])}")
    switches = table(
        "switch", "bridge", "dpid", "connected", title="switches", whole=("switch", "bridge", "dpid")
    )
    for s in state.get("switches", []):
        switches.add_row(s["name"], s["bridge"], str(s["dpid"]), "yes" if s.get("connected") else "no")
    console.print(switches)
    hosts = state.get("hosts", [])
    grid = table("host", "ip", "mac", "role", title=f"hosts ({len(hosts)})", whole=("host", "ip", "mac"))
    for h in hosts[:60]:
        grid.add_row(plain(h["name"]), h.get("ip") or "-", h.get("mac") or "-", plain(h.get("role") or ""))
    if len(hosts) > 60:
        grid.add_row(f"... {len(hosts) - 60} more (all of them: --json)", "", "", "")
    console.print(grid)
    unapplied = state.get("unapplied") or []
    if unapplied:
        reason = "this kernel has no netem" if not state.get("netem") else "not supported"
        console.print(
            f"[yellow]link properties not applied ({reason}); "
            "declared values still count for path latency:[/]"
        )
        for item in unapplied[:30]:
            console.print(plain(f"  {item['link']}: {', '.join(item['properties'])}"), highlight=False)
        if len(unapplied) > 30:
            console.print(f"  ... {len(unapplied) - 30} more links")
