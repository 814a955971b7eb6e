"""Collecting flow state: from a running lab, a saved directory, or the controller's REST API.

The "what to fetch" half of grading; the judging half (``grading``) never does I/O.
A saved directory holds per switch ``<switch>.flows`` (dump-flows text) with optional
``<switch>.groups`` and ``<switch>.ports``, or ``<switch>.json`` (ofctl_rest flow stats).
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sdnlab.controller.rest_client import auth_headers_for_url
from sdnlab.grader.errors import CollectError
from sdnlab.grader.files import read_text
from sdnlab.grader.model import NetworkState, SwitchState
from sdnlab.grader.ofctl_rest import parse_rest_flows, parse_rest_groups
from sdnlab.grader.ofctl_text import parse_flows, parse_groups, parse_ports

if TYPE_CHECKING:
    from sdnlab.topologies import Topology

DUMPS = ("dump-flows", "dump-groups", "dump-ports-desc")


def _ofctl(bridge: str, what: str) -> str:
    proc = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", what, bridge], capture_output=True, text=True, timeout=30
    )
    if proc.returncode != 0:
        raise CollectError(f"ovs-ofctl {what} {bridge}: {proc.stderr.strip()}")
    return proc.stdout


def from_bridges(bridges: dict[str, str]) -> NetworkState:
    """Flow state of OVS bridges; ``bridges`` maps topology switch name -> bridge name.

    Rules are located as lines of the dump (``dump-flows s2 line 3``); ``with_sources`` maps them
    back to the workspace files they were installed from.
    """
    switches = {}
    for switch, bridge in bridges.items():
        flows = parse_flows(_ofctl(bridge, "dump-flows"), f"dump-flows {switch}")
        switches[switch] = SwitchState(
            switch,
            tuple(replace(f, dumped=True) for f in flows),
            parse_groups(_ofctl(bridge, "dump-groups"), f"dump-groups {switch}"),
            parse_ports(_ofctl(bridge, "dump-ports-desc"), f"dump-ports-desc {switch}"),
        )
    return NetworkState(switches)


def with_sources(installed: NetworkState, written: NetworkState) -> NetworkState:
    """``installed`` (collected from the switches) with each rule located in the file it came from.

    A rule is the same rule when table, priority and match agree (as OpenFlow identifies it);
    ``written`` is the state the workspace's files describe (``labs.workspace.static_state``).
    Rules no file wrote (a controller's, or the file changed since) keep their dump location.
    """
    switches = {}
    for name, sw in installed.switches.items():
        files = written.switches.get(name)
        origin = (
            {f.key: f for f in files.flows} if files is not None else {}
        )  # a later duplicate wins, as in OVS
        flows = tuple(
            replace(f, source=origin[f.key].source, line=origin[f.key].line, dumped=False)
            if f.key in origin
            else f
            for f in sw.flows
        )
        switches[name] = replace(sw, flows=flows)
    return NetworkState(switches)


def lab_bridges(name: str) -> dict[str, str]:
    from sdnlab.runtime import api

    return {s["name"]: s["bridge"] for s in api.status(name).get("switches", [])}


def from_lab(name: str = "default") -> NetworkState:
    """Flow state of every switch of a running lab."""
    return from_bridges(lab_bridges(name))


def lab_topology(name: str = "default") -> Topology:
    """The Topology a running lab was built from."""
    from sdnlab.runtime import api
    from sdnlab.topologies import load_topology

    status = api.status(name)
    return load_topology(status.get("topology_source") or status["topology"], status.get("params") or {})


def save_lab(name: str, directory: str | Path) -> Path:
    """Write a running lab's dumps into ``directory`` (for offline grading later)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for switch, bridge in lab_bridges(name).items():
        for what, suffix in zip(DUMPS, ("flows", "groups", "ports"), strict=False):
            (directory / f"{switch}.{suffix}").write_text(_ofctl(bridge, what))
    return directory


def from_dir(path: str | Path) -> NetworkState:
    """Flow state saved in a directory (see module docstring)."""
    directory = Path(path)
    if not directory.exists():
        raise CollectError(f"{directory}: no such directory of flow dumps")
    if not directory.is_dir():
        raise CollectError(
            f"{directory}: not a directory of flow dumps (give the directory that holds <switch>.flows)"
        )
    try:
        files = sorted(directory.iterdir())
    except OSError as exc:
        raise CollectError(f"{directory}: cannot list flow dumps: {exc.strerror or exc}") from None

    def text(file: Path, what: str) -> str:
        return read_text(file, what, CollectError)

    switches = {}
    for file in files:
        if file.suffix == ".flows":
            name = file.stem
            groups = directory / f"{name}.groups"
            ports = directory / f"{name}.ports"
            switches[name] = SwitchState(
                name,
                parse_flows(text(file, "flows"), str(file)),
                parse_groups(text(groups, "groups"), str(groups)) if groups.exists() else {},
                parse_ports(text(ports, "ports"), str(ports)) if ports.exists() else {},
            )
        elif file.suffix == ".json" and not (directory / f"{file.stem}.flows").exists():
            name = file.stem
            groups = directory / f"{name}.groups.json"
            if name.endswith(".groups"):
                continue
            switches[name] = SwitchState(
                name,
                parse_rest_flows(text(file, "flows"), str(file)),
                parse_rest_groups(text(groups, "groups"), str(groups)) if groups.exists() else {},
            )
    if not switches:
        raise CollectError(f"{directory}: no <switch>.flows or <switch>.json files")
    return NetworkState(switches)


def _get_json(url: str) -> Any:
    try:
        request = urllib.request.Request(url, headers=auth_headers_for_url(url))  # the lab's REST token
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read().decode())
    except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: bad JSON or bytes
        raise CollectError(f"GET {url}: {exc}") from None


def from_rest(url: str, topology: Topology | dict[str, Any] | None = None) -> NetworkState:
    """Flow state from an ofctl_rest API at ``url`` (e.g. http://127.0.0.1:8080).

    Switches are named from the topology's dpids when given, else ``s<dpid>``.
    """
    base = url.rstrip("/")
    names = {}
    if topology is not None:
        data = topology.to_dict() if hasattr(topology, "to_dict") else topology
        names = {n["dpid"]: n["name"] for n in data["nodes"] if n["kind"] == "switch"}
    switches = {}
    for dpid in _get_json(f"{base}/stats/switches"):
        name = names.get(dpid, f"s{dpid}")
        flows = parse_rest_flows(_get_json(f"{base}/stats/flow/{dpid}"), f"{name} (REST)", dpid)
        try:
            groups = parse_rest_groups(_get_json(f"{base}/stats/groupdesc/{dpid}"), f"{name} groups (REST)")
        except CollectError:
            groups = {}
        switches[name] = SwitchState(name, flows, groups, dpid=dpid)
    return NetworkState(switches)
