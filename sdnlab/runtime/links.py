"""Links and captures of a running lab: take a link down or up, capture on a port or a host.

``set_link(name, "s1", "s2", up=False)`` sets both ends of every link between two nodes down
(a switch's end in the root namespace under its bridge's name, a host's end inside the host),
as a cable pulled out would; the links that are down are remembered in ``links-down.json`` in
the lab's folder, ``sdnlab status`` lists them and ``restore_links`` (run by ``lab reset``)
brings them back. A lab taken down takes its links with it. ``capture_argv`` gives the
``tcpdump`` command that captures on a switch port (root namespace) or a host's interface.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from sdnlab.errors import LabError
from sdnlab.runtime import api, paths

DOWN_FILE = "links-down.json"


def _topology(name: str) -> dict[str, Any]:
    data = paths.read_json(paths.lab_dir(name) / "topology.json")
    if data is None:
        raise LabError(f"no lab named {name!r} is running")
    return data


def _bridges(state: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["bridge"] for s in state.get("switches", [])}


def link_ends(name: str, a: str, b: str) -> list[tuple[str | None, str]]:
    """(host or None for the root namespace, interface) of both ends of every link a-b."""
    state = api.status(name)
    topology = _topology(name)
    bridges = _bridges(state)
    ends: list[tuple[str | None, str]] = []
    for link in topology.get("links", []):
        if {link["a"], link["b"]} != {a, b}:
            continue
        for node, intf in ((link["a"], link["a_intf"]), (link["b"], link["b_intf"])):
            if node in bridges:
                ends.append((None, bridges[node] + intf[len(node) :]))
            else:
                ends.append((node, intf))
    if not ends:
        nodes = ", ".join(sorted({n["name"] for n in topology.get("nodes", [])})[:20])
        raise LabError(f"lab {name!r} has no link between {a!r} and {b!r} (nodes: {nodes})")
    return ends


def _set(name: str, host: str | None, intf: str, up: bool) -> None:
    argv = ["ip", "link", "set", intf, "up" if up else "down"]
    if host is None:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    else:
        proc = api.run_in(name, host, argv, timeout=10)
    if proc.returncode != 0:
        raise LabError(f"ip link set {intf} {'up' if up else 'down'}: {proc.stderr.strip()}")


def down_links(name: str) -> list[list[str]]:
    """The links of a lab that were set down (pairs of node names)."""
    data = paths.read_json(paths.lab_dir(name) / DOWN_FILE) or {}
    return [list(pair) for pair in data.get("down", [])]


def set_link(name: str, a: str, b: str, up: bool) -> list[str]:
    """Set every link between nodes ``a`` and ``b`` up or down; returns the interfaces changed."""
    ends = link_ends(name, a, b)
    for host, intf in ends:
        _set(name, host, intf, up)
    pair = sorted([a, b])
    down = [p for p in down_links(name) if p != pair] + ([] if up else [pair])
    paths.write_json(paths.lab_dir(name) / DOWN_FILE, {"down": down})
    return [intf for _, intf in ends]


def restore_links(name: str) -> list[list[str]]:
    """Bring back every link set down in a running lab; returns the pairs restored."""
    restored = []
    for a, b in down_links(name):
        set_link(name, a, b, up=True)
        restored.append([a, b])
    return restored


def capture_argv(name: str, target: str, write: Path | None = None, count: int | None = None) -> list[str]:
    """The capture command for a switch port (``s1-eth1``) or a host (``h1``, its first interface)."""
    state = api.status(name)
    hosts = {h["name"]: h for h in state.get("hosts", [])}
    bridges = _bridges(state)

    def tool(interface: str) -> list[str]:
        if write:  # tshark writes pcapng (Wireshark's own format); tcpdump would write pcap
            return ["tshark", "-q", "-i", interface, "-w", str(write), *(["-c", str(count)] if count else [])]
        return ["tcpdump", "-n", "-l", "-i", interface, *(["-c", str(count)] if count else [])]

    if target in hosts:
        interfaces = hosts[target].get("interfaces") or []
        if not interfaces:
            raise LabError(f"host {target!r} of lab {name!r} has no interface")
        return api.host_argv(name, target, tool(interfaces[0]["name"]))
    switch, sep, port = target.partition("-eth")
    if sep and switch in bridges and port.isdigit():
        return tool(f"{bridges[switch]}-eth{port}")
    if sep and switch in bridges.values() and port.isdigit():
        return tool(target)
    raise LabError(
        f"capture {target!r}: give a host ({', '.join(list(hosts)[:8])}) or a switch port such as "
        f"{next(iter(bridges), 's1')}-eth1"
    )
