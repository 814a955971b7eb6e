"""Running a lab: bring its network up from a workspace (controller, flows, VNFs), run its scenario.

Also the host helpers the probes share (``resolve``, ``address``, ``ping``, ``_run``). The live
probes themselves are in ``sdnlab.labs.probes``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sdnlab.labs import workspace
from sdnlab.labs.errors import LabSessionError
from sdnlab.labs.model import Lab, ScenarioStep

PARALLEL = 8
PINGALL_COUNT = 3  # a pair counts when any echo comes back (first packets may wait for a learning controller)


# ---------------------------------------------------------------- topology helpers


def load_topology(lab: Lab):
    """The lab's ``sdnlab.topologies.Topology``."""
    from sdnlab.topologies import load_topology as load

    return load(lab.topology.source, dict(lab.topology.params))


def resolve(topology, selectors) -> list[str]:
    """Host names (or literal IPv4 addresses) selected by ``h1``, ``role:NAME``, ``kind:KIND``, ``all``."""
    import ipaddress

    if isinstance(selectors, str):
        selectors = [selectors]
    hosts = [n for n in topology.hosts() if n.kind != "vnf"]
    names: list[str] = []
    for sel in selectors:
        if sel == "all":
            found = [n.name for n in hosts]
        elif sel.startswith("role:"):
            found = [n.name for n in hosts if sel[5:] in n.roles]
        elif sel.startswith("kind:"):
            found = [n.name for n in topology.hosts() if n.kind == sel[5:]]
        elif sel in topology.nodes:
            found = [sel]
        else:
            try:
                ipaddress.IPv4Address(sel)
            except ValueError:
                raise LabSessionError(f"unknown node {sel!r} in a lab probe or scenario step") from None
            found = [sel]
        names.extend(n for n in found if n not in names)
    return names


def address(topology, node: str) -> str:
    return topology.nodes[node].ip if node in topology.nodes else node


# ---------------------------------------------------------------- bring up / deploy


def controller_arg(lab: Lab, workdir: Path) -> tuple[str, str | None]:
    """(runtime controller argument, controller config path or None) for a workspace."""
    mode, file = lab.controller.mode, lab.controller.file
    if mode == "app" and file:
        return f"app:{(Path(workdir) / file).resolve()}", None
    if mode == "builtin":
        return "builtin", str((Path(workdir) / file).resolve()) if file else None
    return "none", None


def up(lab: Lab, workdir: Path, name: str) -> dict:
    """Start the lab's network from a workspace: controller, flows, VNFs. Returns the runtime status."""
    from sdnlab.runtime import api

    controller, config = controller_arg(lab, workdir)
    status = api.up(
        lab.topology.source,
        dict(lab.topology.params),
        name=name,
        controller=controller,
        controller_config=config,
    )
    try:
        deploy(lab, workdir, name, status)
    except KeyboardInterrupt:
        api.down(name)
        raise api.Interrupted(f"interrupted; cleaned up (lab {name!r} removed)") from None
    except BaseException:
        api.down(name)
        raise
    return status


def bridges(status: dict) -> dict[str, str]:
    return {s["name"]: s["bridge"] for s in status.get("switches", [])}


def deploy(lab: Lab, workdir: Path, name: str, status: dict) -> None:
    """Install the workspace's flows and (re)start its VNFs on a running lab."""
    if lab.controller.mode == "none":
        workspace.install_flows(workdir, bridges(status), replace=True)
    start_vnfs(lab, workdir, name, status)


def controller_url(status: dict) -> str:
    port = (status.get("controller") or {}).get("rest_port")
    return f"http://127.0.0.1:{port}" if port else ""


def start_vnfs(lab: Lab, workdir: Path, name: str, status: dict) -> None:
    from sdnlab.runtime import paths
    from sdnlab.vnfs import manage

    running = {v.get("name") for v in manage.status(name)} if lab.vnfs else set()
    for vnf in lab.vnfs:
        if vnf.name in running:
            manage.stop(name, vnf.name)
        config = None
        if vnf.config:
            target = paths.lab_dir(name) / "lab-configs" / f"{vnf.name}-{Path(vnf.config).name}"
            config = str(
                workspace.render_file(
                    Path(workdir) / vnf.config, {"controller_url": controller_url(status)}, target
                )
            )
        shown = str(Path(workdir) / vnf.config) if vnf.config else None  # errors name the trainee's file
        manage.start(name, vnf.kind, vnf.host, config=config, vnf_name=vnf.name, config_name=shown)


# ---------------------------------------------------------------- running commands in hosts


def _run(name: str, host: str, argv, timeout: float) -> subprocess.CompletedProcess:
    from sdnlab.runtime import api

    try:
        return api.run_in(name, host, argv, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", "timeout")


def ping_argv(ip: str, count: int = 2) -> list[str]:
    """A ping that stops at the first echo reply, sending every 0.2 s for at most ``1 + count`` seconds.

    The deadline (``-w``) is the bounded retry: an echo lost while a neighbour entry or a learning
    controller is still settling is sent again instead of failing the pair.
    """
    return ["ping", "-n", "-q", "-c", "1", "-i", "0.2", "-w", str(1 + max(1, count)), ip]


def ping(name: str, src: str, ip: str, count: int = 2) -> bool:
    """True when ``src`` gets an echo reply from ``ip`` within ``1 + count`` seconds."""
    return _run(name, src, ping_argv(ip, count), 5 + count).returncode == 0


FLUSH = "ip neigh flush all; command -v conntrack >/dev/null 2>&1 && conntrack -F >/dev/null 2>&1; true"


def fresh_hosts(name: str, topology) -> None:
    """Start a graded run from a known state: every host's neighbour cache (and conntrack table) flushed.

    After a failed probe a host keeps an INCOMPLETE or FAILED neighbour entry for a few seconds,
    and a connect made meanwhile fails at once with EHOSTUNREACH: without the flush a grade
    would depend on what was graded just before. Permanent entries (``static_arp``) stay.
    """
    hosts = [node.name for node in topology.hosts()]
    _parallel(lambda host: _run(name, host, ["sh", "-c", FLUSH], 10), [(h,) for h in hosts])


SCAN = (
    "import socket,sys\n"
    "for ip in sys.argv[2:]:\n"
    "    s=socket.socket(); s.settimeout(0.3)\n"
    "    try: s.connect_ex((ip, int(sys.argv[1])))\n"
    "    except OSError: pass\n"
    "    s.close()\n"
)


def _parallel(fn, jobs: list) -> list:
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(jobs))) as pool:
        return list(pool.map(lambda job: fn(*job), jobs))


# ---------------------------------------------------------------- scenario


def run_scenario(lab: Lab, name: str, topology) -> list[str]:
    """Reset the hosts' caches (``fresh_hosts``), then run the scenario steps in order; a log line each."""
    fresh_hosts(name, topology)
    log = []
    for step in lab.scenario:
        log.append(run_step(step, name, topology))
    return log


def run_step(step: ScenarioStep, name: str, topology) -> str:
    args = step.args
    if step.kind == "sleep":
        time.sleep(float(args["seconds"]))
        return f"slept {args['seconds']} s"
    if step.kind == "pingall":
        hosts = resolve(topology, "all")
        jobs = [(name, s, address(topology, d), PINGALL_COUNT) for s in hosts for d in hosts if s != d]
        ok = sum(_parallel(ping, jobs))
        return f"pingall: {ok}/{len(jobs)} pairs answered"
    if step.kind == "ping":
        dsts = resolve(topology, args.get("dst", "all"))
        jobs = [
            (name, s, address(topology, d), int(args.get("count", 1)))
            for s in resolve(topology, args["src"])
            for d in dsts
            if s != d
        ]
        ok = sum(_parallel(ping, jobs))
        return f"ping: {ok}/{len(jobs)} pairs answered"
    if step.kind == "static_arp":
        hosts = resolve(topology, args["hosts"])
        for host in hosts:
            intf = topology.nodes[host].interfaces[0].name
            _run(
                name,
                host,
                [
                    "ip",
                    "neigh",
                    "replace",
                    str(args["ip"]),
                    "lladdr",
                    str(args["mac"]),
                    "dev",
                    intf,
                    "nud",
                    "permanent",
                ],
                5,
            )
        return f"static_arp: {args['ip']} is {args['mac']} on {len(hosts)} hosts"
    if step.kind == "rest":
        from sdnlab.labs import rest_calls
        from sdnlab.runtime import api

        status, _answer = rest_calls.call(
            controller_url(api.status(name)), args["method"], args["path"], args.get("body")
        )
        return f"rest: {args['method']} {args['path']} -> {status or 'no answer'}"
    if step.kind == "telnet_scan":
        src = resolve(topology, args["src"])[0]
        targets = [address(topology, t) for t in resolve(topology, args.get("targets", "all")) if t != src]
        port = int(args.get("port", 23))
        _run(name, src, [sys.executable, "-c", SCAN, str(port), *targets], 5 + len(targets))
        return f"telnet_scan: {src} probed TCP {port} on {len(targets)} hosts"
    raise AssertionError(f"unknown step kind {step.kind}")
