"""`make demo`: run the default lab end to end with its reference solution and print its grade.

While the lab catalogue is not installed, the demo brings up the default topology with the
builtin controller, shows that traffic flows (ping and TCP), and takes it down.
"""

from __future__ import annotations

import importlib

from rich.console import Console

from sdnlab.runtime import api


def run_demo(lab: str | None = None) -> int:
    console = Console()
    try:
        labs_demo = importlib.import_module("sdnlab.labs.demo")
    except ModuleNotFoundError:
        labs_demo = None
    if labs_demo is not None:
        return labs_demo.run(lab, console)
    return network_demo(console)


def network_demo(console: Console, name: str = "demo") -> int:
    """Bring up `linear`, ping across it, run iperf3 over TCP, take it down."""
    console.print("[bold]sdnlab demo[/]: linear topology, builtin controller")
    state = api.up("linear", {"switches": 3}, name=name, controller="builtin")
    ok = True
    try:
        console.print(
            f"up in {state['ready_s']:.1f} s; switches connected: "
            f"{sum(s['connected'] for s in state['switches'])}/{len(state['switches'])}"
        )
        hosts = state["hosts"]
        src, dst = hosts[0], hosts[-1]
        ping = api.run_in(name, src["name"], ["ping", "-c3", "-i0.2", "-W2", dst["ip"]], timeout=20)
        console.print(
            f"ping {src['name']} -> {dst['name']}: {ping.stdout.strip().splitlines()[-2] if ping.stdout else ping.stderr}"
        )
        ok &= ping.returncode == 0
        server = api.popen_in(name, dst["name"], ["iperf3", "-s", "-1"], stdout=-3, stderr=-3)
        try:
            import time

            time.sleep(0.5)
            perf = api.run_in(
                name, src["name"], ["iperf3", "-c", dst["ip"], "-t", "2", "-f", "m"], timeout=30
            )
            line = next((l for l in perf.stdout.splitlines() if "receiver" in l), perf.stderr.strip())
            console.print(f"iperf3 TCP {src['name']} -> {dst['name']}: {line.strip()}")
            ok &= perf.returncode == 0
        finally:
            server.kill()
    finally:
        report = api.down(name)
        console.print(f"down in {report['down_s']:.1f} s")
    console.print("[green]traffic flows[/]" if ok else "[red]traffic did not flow[/]")
    return 0 if ok else 1
