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
SETTLE_TIMEOUT_S = 60.0  # a settle step's default limit
SETTLE_POLL_S = 0.5  # how often a settle step reads the switches


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


def pingall(name: str, topology) -> str:
    """Every host pings every other host (``PINGALL_COUNT``); the log line."""
    hosts = resolve(topology, "all")
    jobs = [(name, s, address(topology, d), PINGALL_COUNT) for s in hosts for d in hosts if s != d]
    ok = sum(_parallel(ping, jobs))
    return f"pingall: {ok}/{len(jobs)} pairs answered"


def switch_snapshot(bridge_names: list[str]) -> tuple[str, ...]:
    """What a controller app changes on the switches: every port's config and state (stplib's
    port-mods) and every flow without its counters, per bridge, in a comparable form."""
    lines: list[str] = []
    for bridge in sorted(bridge_names):
        for what in (["dump-ports-desc"], ["--no-stats", "dump-flows"]):
            try:
                done = subprocess.run(
                    ["ovs-ofctl", "-O", "OpenFlow13", *what, bridge],
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
                text = done.stdout if done.returncode == 0 else f"error: {done.stderr.strip()}"
            except subprocess.TimeoutExpired:
                text = "error: timeout"
            lines += sorted(
                f"{bridge} {what[-1]} {line.strip()}" for line in text.splitlines() if line.strip()
            )
    return tuple(lines)


def quiet_for(
    snapshot,
    stable_s: float,
    deadline: float,
    since: tuple[str, ...] | None = None,
    clock=time.monotonic,
    pause=time.sleep,
) -> tuple[bool, tuple[str, ...]]:
    """Watch ``snapshot()`` until it has not changed for ``stable_s`` seconds: (True, it), or
    (False, the last one) when it changed meanwhile (with ``since`` given, at the first change
    from it) or the deadline passed first."""
    last = snapshot() if since is None else since
    quiet_since = clock()
    while clock() - quiet_since < stable_s:
        if clock() >= deadline:
            return False, last
        pause(SETTLE_POLL_S)
        now = snapshot()
        if now != last:
            if since is not None:
                return False, now
            last, quiet_since = now, clock()
    return True, last


def announce(name: str, topology) -> None:
    """Every host sends one broadcast (an ICMP echo to 255.255.255.255 out of its first interface):
    a learning switch then knows every host's port without waiting for unicast traffic to reach
    its controller (which flows already installed for another pair can keep from it)."""
    hosts = [n for n in topology.hosts() if n.kind != "vnf" and n.interfaces]
    argv = "ping -b -n -q -c 1 -W 1 -I {} 255.255.255.255 >/dev/null 2>&1; true"
    _parallel(
        lambda host, intf: _run(name, host, ["sh", "-c", argv.format(intf)], 10),
        [(h.name, h.interfaces[0].name) for h in hosts],
    )


def settle(
    name: str,
    topology,
    stable_s: float,
    timeout_s: float,
    snapshot=None,
    clock=time.monotonic,
    pause=time.sleep,
    pings=None,
    flush=None,
    announce_hosts=None,
) -> str:
    """A ``pingall`` on switches that keep what it produced, for apps whose network changes by
    itself (a spanning tree, whose app forgets its learned flows when the tree changes).

    Waits until the switches (ports' config and state, flows without counters) have not changed
    for ``stable_s`` seconds, flushes the hosts' neighbour caches, has every host send a broadcast
    (``announce``: every switch learns every host), pings while it keeps reading the switches, then watches
    them for another ``stable_s`` seconds. A line that vanished during the pings or anything that
    changed after them (the app forgot flows) starts another round. Gives up after ``timeout_s``
    seconds; grading then judges whatever the switches hold (an app that never settles or never
    installs flows is not helped). The log line.

    ``snapshot`` (default ``switch_snapshot`` of the lab's bridges), ``clock``, ``pause``,
    ``pings`` (default ``pingall``), ``flush`` (default ``fresh_hosts``) and ``announce_hosts``
    (default ``announce``) are the step's I/O."""
    from sdnlab.runtime import api

    if snapshot is None:
        names = list(bridges(api.status(name)).values())
        snapshot = lambda: switch_snapshot(names)  # noqa: E731
    pings = pings or pingall
    flush = flush or fresh_hosts
    announce_hosts = announce_hosts or announce
    deadline = clock() + timeout_s
    rounds, changes, line = 0, list[str](), "no pingall"
    while clock() < deadline:
        quiet, before = quiet_for(snapshot, stable_s, deadline, since=None, clock=clock, pause=pause)
        if not quiet:
            break
        flush(name, topology)
        announce_hosts(name, topology)
        rounds += 1
        line, vanished = _pings_watched(lambda: pings(name, topology), snapshot, before, pause)
        if vanished:
            changes.append(f"during pingall #{rounds}: {vanished}")
            continue
        after = snapshot()
        held, last = quiet_for(snapshot, stable_s, deadline, since=after, clock=clock, pause=pause)
        if held:
            kept = f"settle: switches unchanged for {stable_s:g} s after pingall #{rounds} ({line})"
            return kept + _changes(changes)
        if last != after:
            changes.append(f"after pingall #{rounds}: {_change(after, last)}")
    gave_up = f"settle: switches still changing after {timeout_s:g} s, {rounds} pingall(s) ({line})"
    return gave_up + _changes(changes)


def _pings_watched(run_pings, snapshot, before: tuple[str, ...], pause) -> tuple[str, str]:
    """Run the pings in a thread while reading the switches: (their log line, "" or what vanished:
    a line of one reading missing from a later one; pings only add flows to a settled network)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        done = pool.submit(run_pings)
        seen, vanished = set(before), ""
        while True:
            finished = done.done()
            now = set(snapshot())
            if not vanished and seen - now:
                vanished = _change(tuple(seen), tuple(now))
            seen = now
            if finished:
                return done.result(), vanished
            pause(SETTLE_POLL_S)


def _change(before: tuple[str, ...], after: tuple[str, ...]) -> str:
    gone, new = sorted(set(before) - set(after)), sorted(set(after) - set(before))
    first = (["- " + gone[0]] if gone else []) + (["+ " + new[0]] if new else [])
    return f"{len(gone)} lines gone, {len(new)} new, e.g. {'; '.join(first)}"


def _changes(changes: list[str]) -> str:
    return "".join(f"; {c}" for c in changes)


def run_step(step: ScenarioStep, name: str, topology) -> str:
    args = step.args
    if step.kind == "sleep":
        time.sleep(float(args["seconds"]))
        return f"slept {args['seconds']} s"
    if step.kind == "pingall":
        return pingall(name, topology)
    if step.kind == "settle":
        return settle(name, topology, float(args["stable_s"]), float(args.get("timeout_s", SETTLE_TIMEOUT_S)))
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
