"""Human renderings of lab state (rich tables); JSON output is the state dict itself."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def status_tables(state: dict[str, Any], console: Console) -> None:
    """Print a lab's status: header line, problems, switches, hosts and unapplied link properties."""
    ctl = state.get("controller") or {}
    where = f" {ctl.get('host')}:{ctl.get('port')}" if ctl.get("port") else ""
    alive = "" if "alive" not in ctl else (" (running)" if ctl["alive"] else " (NOT running)")
    if ctl.get("restarts"):
        alive += f" (restarted {ctl['restarts']}x, last {ctl.get('last_restart', '?')})"
    console.print(
        f"[bold]lab {state['name']}[/]: topology [cyan]{state.get('topology')}[/] "
        f"{state.get('params') or ''}  "
        f"phase {state.get('phase')}  controller {ctl.get('mode')}{where}{alive}"
        + (f"  REST :{ctl['rest_port']}" if ctl.get("rest_port") else "")
    )
    if state.get("links_down"):
        down = ", ".join("-".join(pair) for pair in state["links_down"])
        console.print(f"[yellow]links down:[/] {down} (`sdnlab link A B up` brings one back)")
    if state.get("problem"):
        console.print(f"[bold red]problem:[/] {escape(state['problem'])}")
    switches = Table("switch", "bridge", "dpid", "connected", title="switches", title_justify="left")
    for s in state.get("switches", []):
        switches.add_row(s["name"], s["bridge"], str(s["dpid"]), "yes" if s.get("connected") else "no")
    console.print(switches)
    hosts = state.get("hosts", [])
    table = Table("host", "ip", "mac", "role", title=f"hosts ({len(hosts)})", title_justify="left")
    for h in hosts[:60]:
        table.add_row(h["name"], h.get("ip") or "-", h.get("mac") or "-", h.get("role") or "")
    if len(hosts) > 60:
        table.add_row(f"... {len(hosts) - 60} more", "", "", "")
    console.print(table)
    unapplied = state.get("unapplied") or []
    if unapplied:
        reason = "this kernel has no netem" if not state.get("netem") else "not supported"
        console.print(
            f"[yellow]link properties not applied ({reason}); "
            "declared values still count for path latency:[/]"
        )
        for item in unapplied[:30]:
            console.print(f"  {item['link']}: {', '.join(item['properties'])}")
        if len(unapplied) > 30:
            console.print(f"  ... {len(unapplied) - 30} more links")
