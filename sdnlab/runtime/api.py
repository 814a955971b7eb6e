"""Library API of the lab runtime: bring labs up and down, inspect them, run commands in hosts.

A lab is a named network held by a supervisor process (``sdnlab.runtime.supervisor``); this
module starts supervisors, waits for them, and reads their state. Commands in hosts run through
``mnexec -a <pid>``, which joins the host's network and mount namespaces.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sdnlab.errors import LabError, SdnlabError, UsageError
from sdnlab.runtime import capacity, paths, teardown
from sdnlab.runtime import ovsdb as ovsdb_access
from sdnlab.runtime.host_env import require_lab_host, require_root

DEFAULT_NAME = "default"


class Interrupted(SdnlabError):
    """Ctrl-C (or SIGTERM) stopped a command that builds a lab; what it had built was removed."""

    exit_code = 130


OFP_BASE_PORT = 6653
REST_BASE_PORT = 8080


OPENFLOW_VERSIONS = ("OpenFlow10", "OpenFlow11", "OpenFlow12", "OpenFlow13", "OpenFlow14", "OpenFlow15")
DEFAULT_PROTOCOLS = "OpenFlow13"


def parse_protocols(text: str | None) -> str:
    """``OpenFlow13,OpenFlow14`` -> the OVS bridge ``protocols`` value; unknown names are an error."""
    names = [part.strip() for part in (text or DEFAULT_PROTOCOLS).split(",") if part.strip()]
    unknown = [n for n in names if n not in OPENFLOW_VERSIONS]
    if unknown or not names:
        raise UsageError(
            f"--protocols {text!r}: expected a comma-separated list of {', '.join(OPENFLOW_VERSIONS)}"
        )
    return ",".join(dict.fromkeys(names))


# ---------------------------------------------------------------- controller argument


def parse_controller(text: str, cwd: Path | None = None) -> dict[str, Any]:
    """``builtin`` | ``none`` | ``remote:HOST:PORT`` | ``app:MODULE_OR_FILE[,MORE]`` -> controller spec."""
    text = (text or "builtin").strip()
    if text in ("builtin", "none"):
        return {"mode": text}
    kind, _, rest = text.partition(":")
    if kind == "remote":
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"--controller {text!r}: expected remote:HOST:PORT, e.g. remote:127.0.0.1:6653")
        return {"mode": "remote", "host": host, "port": int(port)}
    if kind == "app" and rest:
        apps = []
        for app in rest.split(","):
            app = app.strip()
            if app.endswith(".py"):
                path = Path(app) if Path(app).is_absolute() else (cwd or Path.cwd()) / app
                if not path.is_file():
                    raise UsageError(f"--controller {text!r}: no such app file {app}")
                app = str(path.resolve())
            apps.append(app)
        return {"mode": "app", "apps": apps}
    raise UsageError(f"--controller {text!r}: expected builtin, none, remote:HOST:PORT or app:MODULE_OR_FILE")


def check_controller(ctl: dict[str, Any], host_names: list[str] | None = None) -> None:
    """Catch what would stop the controller before any network is built: missing or broken app
    files, unknown app modules, an invalid builtin config."""
    import importlib.util

    for app in ctl.get("apps", []):
        if app.endswith(".py"):
            try:
                compile(Path(app).read_bytes(), app, "exec")
            except SyntaxError as exc:
                raise LabError(f"{app}:{exc.lineno}: syntax error in controller app: {exc.msg}") from None
            except (OSError, ValueError) as exc:
                raise LabError(f"{app}: cannot read controller app: {exc}") from None
        else:
            try:
                found = importlib.util.find_spec(app)
            except (ImportError, ValueError):
                found = None
            if found is None:
                raise LabError(f"controller app {app!r}: no such module (give a module name or a .py file)")
    if ctl.get("config"):
        from sdnlab.controller.config import load_config

        load_config(ctl["config"], host_names=host_names)  # raises a located error for a bad file


# ---------------------------------------------------------------- up / down


@contextlib.contextmanager
def _run_lock() -> Iterator[None]:
    base = paths.ensure_run_dir()
    with paths.open_private(base / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


_HELD = threading.local()  # lab locks this thread holds (a nested ``exclusive`` must not wait on itself)


@contextlib.contextmanager
def exclusive(
    name: str, timeout: float = 900.0, waiting: Callable[[str], object] | None = None
) -> Iterator[None]:
    """Hold lab ``name``'s grading lock: gradings and redeploys of one lab run one at a time.

    Two gradings at once share the lab's hosts (listeners on the same port, flows swapped under a
    probe) and give wrong results, so every command that grades or redeploys takes this lock
    (``flock`` on ``<run dir>/.locks/<name>.lock``, outside the lab's own folder, which a restart
    removes). ``waiting(text)`` is called once if another holder makes us wait.
    """
    paths.check_name(name)
    held: set[str] = _HELD.__dict__.setdefault("names", set())
    if name in held:
        yield
        return
    locks = paths.ensure_run_dir() / ".locks"
    locks.mkdir(exist_ok=True, mode=0o700)
    with paths.open_private(locks / f"{name}.lock", "a") as lock:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LabError(
                        f"lab {name!r} is busy: another grading or reset has held it for {timeout:.0f} s"
                    ) from None
                if waiting and not told:
                    waiting(f"lab {name}: waiting for another grading or reset to finish")
                    told = True
                time.sleep(0.1)
        held.add(name)
        try:
            yield
        finally:
            held.discard(name)
            fcntl.flock(lock, fcntl.LOCK_UN)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(preferred: int, taken: set[int]) -> int:
    port = preferred
    while port in taken or not _port_free(port):
        port += 10
        if port > 65000:
            raise LabError("no free TCP port for the lab's controller")
    return port


def _labs_using() -> tuple[set[int], set[int]]:
    slots: set[int] = set()
    ports: set[int] = set()
    for other in paths.lab_names():
        spec = paths.read_json(paths.lab_dir(other) / "spec.json") or {}
        if "slot" in spec:
            slots.add(spec["slot"])
        ctl = spec.get("controller", {})
        ports.update(p for p in (ctl.get("port"), ctl.get("rest_port")) if p)
    return slots, ports


def _ovsdb_ports() -> dict[str, int]:
    """Lab name -> the OVSDB port opened for its controller (labs started with ``--ovsdb``)."""
    opened = {}
    for other in paths.lab_names():
        spec = paths.read_json(paths.lab_dir(other) / "spec.json") or {}
        port = (spec.get("ovsdb") or {}).get("port")
        if port:
            opened[other] = int(port)
    return opened


def up(
    topology: str | Path,
    params: dict[str, Any] | None = None,
    name: str = DEFAULT_NAME,
    controller: str = "builtin",
    controller_config: str | None = None,
    ready_timeout: float | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    protocols: str | None = None,
    observe_links: bool = False,
    ovsdb: bool | int | None = None,
) -> dict[str, Any]:
    """Build and start a lab; returns its status once every switch is connected (see ``status``).

    ``progress(phase, done, total)`` hears of each phase: building (with the topology's counts),
    then switches connecting to the controller (``done`` of ``total`` switches).
    ``protocols`` lists the OpenFlow versions the switches offer (default ``OpenFlow13``).
    ``observe_links`` runs the controller's link discovery for ``app:`` controllers, as
    ``ryu-manager --observe-links`` does (the builtin controller always has it).
    ``ovsdb`` opens the switches' OVSDB to the controller on 127.0.0.1 (``True``: port 6632, an
    int: that port; None: as the topology's ``ovsdb:`` says), see ``sdnlab.runtime.ovsdb``.
    """
    from sdnlab.topologies import load_topology, resolve_path
    from sdnlab.topologies.bond import bond_plans
    from sdnlab.topologies.mininet_build import bridge_name

    require_lab_host()
    paths.check_name(name)
    topo = load_topology(topology, params)  # validation errors surface before anything is built
    protocols = parse_protocols(protocols)
    source = resolve_path(topology)
    ctl = parse_controller(controller)
    if observe_links:
        if ctl["mode"] != "app":
            raise LabError(f"--observe-links applies to app: controllers, not to --controller {controller}")
        ctl["observe_links"] = True
    if controller_config:
        if ctl["mode"] not in ("builtin", "app"):
            raise LabError(
                f"--controller-config applies to the builtin controller, not to --controller {controller}"
            )
        cfg = Path(controller_config)
        if not cfg.is_file():
            raise LabError(f"controller config {controller_config}: no such file")
        ctl["config"] = str(cfg.resolve())
    check_controller(ctl, [h.name for h in topo.hosts()])
    ovsdb_port = ovsdb_access.parse_port(ovsdb, "--ovsdb") if ovsdb is not None else topo.ovsdb
    lab = paths.lab_dir(name)
    with _run_lock():
        if lab.exists():
            if paths.is_running(name):
                raise LabError(
                    f"lab {name!r} is already running: `sdnlab down --name {name}` first, "
                    "or pick another --name"
                )
            teardown.teardown_lab(name)  # a stale lab (supervisor killed): clear it first
        slots, ports = _labs_using()
        if ovsdb_port:
            ovsdb_access.check_port(name, ovsdb_port, _ovsdb_ports())
        slot = capacity.free_slot(slots)
        bonds = bond_plans(topo, slot)
        bridges = [bridge_name(s.name, slot) for s in topo.switches()] + [b.bridge for b in bonds]
        existing = set(
            subprocess.run(
                ["ovs-vsctl", "--timeout=10", "list-br"], capture_output=True, text=True
            ).stdout.split()
        )
        clash = [b for b in bridges if b in existing]
        if clash:
            raise LabError(
                f"OVS bridge(s) {', '.join(clash[:5])} already exist but belong to no running lab: "
                "run `sdnlab clean` (or remove them with ovs-vsctl del-br)"
            )
        if ctl["mode"] in ("builtin", "app"):
            ctl["host"] = "127.0.0.1"
            ctl["port"] = _free_port(OFP_BASE_PORT + slot, ports)
            ctl["rest_port"] = _free_port(REST_BASE_PORT + slot, ports | {ctl["port"]})
        switch_intfs = []
        for link in topo.links:
            for end, intf in ((link.a, link.a_intf), (link.b, link.b_intf)):
                if topo.nodes[end].is_switch:
                    switch_intfs.append(bridge_name(end, slot) + intf[len(end) :])
        switch_intfs += [name for plan in bonds for name in plan.interfaces]
        paths.make_lab_dir(name)
        wait_s = ready_timeout or max(60.0, 30.0 + 0.1 * len(topo.nodes))
        spec = {
            "name": name,
            "topology": str(source.resolve()),
            "params": topo.params,
            "slot": slot,
            "controller": ctl,
            "bridges": bridges,  # the topology's switches, then the bonded hosts' bridges
            "switch_count": len(topo.switches()),
            "switch_interfaces": switch_intfs,
            "protocols": protocols,
            **({"ovsdb": {"host": ovsdb_access.HOST, "port": ovsdb_port}} if ovsdb_port else {}),
            "ready_timeout": wait_s,
            "cwd": os.getcwd(),
        }
        paths.write_json(lab / "spec.json", spec)
        log = paths.open_private(lab / "supervisor.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "sdnlab.runtime.supervisor", name],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(os.environ, SDNLAB_LAB=name),
        )
        spec["supervisor_pid"] = proc.pid
        paths.write_json(lab / "spec.json", spec)
    if progress:
        progress(
            f"building {len(topo.hosts())} hosts, {len(topo.switches())} switches, {len(topo.links)} links",
            0,
            0,
        )
    try:
        return _wait_ready(name, proc, wait_s + 60, progress)
    except KeyboardInterrupt:
        _stop_supervisor(proc.pid, lab, timeout=60)
        raise Interrupted(f"interrupted; cleaned up (lab {name!r} removed)") from None
    except BaseException:
        _stop_supervisor(proc.pid, lab, timeout=60)
        raise


CONNECTING = "switches connecting to the controller"  # the progress phase after building


def _wait_ready(
    name: str,
    proc: subprocess.Popen[bytes],
    timeout: float,
    progress: Callable[[str, int, int], None] | None,
) -> dict[str, Any]:
    from sdnlab.runtime.supervisor import established_to

    lab = paths.lab_dir(name)
    spec = paths.read_json(lab / "spec.json") or {}
    switches = int(spec.get("switch_count", len(spec.get("bridges", []))))  # bond bridges: none
    own_port = (
        spec.get("controller", {}).get("port") if spec.get("controller", {}).get("mode") != "remote" else None
    )
    controlled = spec.get("controller", {}).get("mode", "none") != "none"
    deadline = time.monotonic() + timeout
    last: tuple[str, int] | None = None
    while True:
        state = paths.read_json(lab / "state.json") or {}
        phase = state.get("phase")
        if progress and phase == "building" and "hosts" in state:  # built: switches start and connect
            connected = min(established_to(own_port) if own_port else 0, switches)
            step = (CONNECTING, connected)
            if step != last:
                progress(step[0], connected, switches)
                last = step
        if phase == "ready":
            done = (CONNECTING, switches)
            if progress and switches and controlled and last != done:  # a quick lab outran the polls
                progress(done[0], switches, switches)
            return status(name)
        if phase == "failed" or proc.poll() is not None:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
            error = (
                _controller_error(lab / "controller.log")
                or state.get("error")
                or f"supervisor exited with code {proc.returncode}"
            )
            logs = [t for t in (_tail(lab / "supervisor.log", 4), _tail(lab / "controller.log", 4)) if t]
            teardown.teardown_lab(name)
            detail = (
                ("\nlast log lines:\n" + "\n".join(logs)) if logs and os.environ.get("SDNLAB_DEBUG") else ""
            )
            raise LabError(f"lab {name!r} failed to start: {error}{detail}")
        if time.monotonic() > deadline:
            raise LabError(f"lab {name!r} not ready after {timeout:.0f} s")
        time.sleep(0.1)


def _controller_error(log: Path) -> str | None:
    """The controller runner's own one-line error, if it wrote one."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if "runner: error:" in line:
            return "controller: " + line.split("runner: error:", 1)[1].strip()
    if "Traceback (most recent call last):" in lines:
        # an app raised while loading: its exception and the last frame of the app's own code
        start = len(lines) - 1 - lines[::-1].index("Traceback (most recent call last):")
        frames = [x.strip() for x in lines[start:] if x.strip().startswith('File "')]
        ends = [x for x in lines[start + 1 :] if x and not x.startswith(" ")]
        where = ""
        outside = [f for f in frames if "/site-packages/" not in f and "<frozen" not in f]
        if outside:
            where = (
                " (" + outside[-1].replace('File "', "").replace('", line', ", line").split(", in ")[0] + ")"
            )
        if ends:
            return f"controller: {ends[-1].strip()}{where}"
    return None


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(f"  {path.name}: {line}" for line in text[-lines:])


def _stop_supervisor(
    pid: int | None, lab: Path, timeout: float, tick: Callable[[], None] | None = None
) -> None:
    """Ask the supervisor to tear down; if it does not finish in time, clean up after it."""
    name = lab.name
    if pid and paths.pid_alive(pid):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while paths.pid_alive(pid) and time.monotonic() < deadline:
            if tick:
                tick()
            time.sleep(0.05)
        if paths.pid_alive(pid):
            teardown.kill_pids([pid])
    teardown.teardown_lab(name)


def _teardown_progress(
    lab: Path, spec: dict[str, Any], progress: Callable[[str, int, int], None]
) -> Callable[..., None]:
    """A tick that reports how many of the lab's hosts and switches are gone (every 0.5 s)."""
    state = paths.read_json(lab / "state.json") or {}
    pids = [h["pid"] for h in state.get("hosts", []) if h.get("pid")]
    bridges = list(spec.get("bridges", []))
    what = f"stopping {len(pids)} hosts, {len(bridges)} switches"
    last = [0.0]

    def tick(force: bool = False) -> None:
        if not force and time.monotonic() - last[0] < 0.5:
            return
        last[0] = time.monotonic()
        listed = subprocess.run(["ovs-vsctl", "--timeout=5", "list-br"], capture_output=True, text=True)
        existing = set(listed.stdout.split())
        gone = sum(not paths.pid_alive(p) for p in pids) + sum(b not in existing for b in bridges)
        progress(what, gone, len(pids) + len(bridges))

    progress(what, 0, len(pids) + len(bridges))
    return tick


def down(name: str = DEFAULT_NAME, progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Stop a lab and remove everything it created; returns a short report.

    ``progress(phase, done, total)`` hears how many of the lab's hosts and switches are gone.
    """
    require_root("stop a lab")  # one line for a non-root user, not a PermissionError
    lab = paths.lab_dir(name)
    if not lab.exists():
        raise LabError(f"no lab named {name!r} is running{_running_hint()}")
    spec = paths.read_json(lab / "spec.json") or {}
    started = time.monotonic()
    tick = _teardown_progress(lab, spec, progress) if progress else None
    _stop_supervisor(spec.get("supervisor_pid"), lab, timeout=120, tick=tick)
    if tick:
        tick(force=True)  # what is gone now that the supervisor has finished
    return {"name": name, "down_s": round(time.monotonic() - started, 3)}


def clean(all_labs: bool = False) -> list[dict[str, Any]]:
    """Remove what dead labs left behind (supervisor killed, crash); with ``all_labs`` stop running labs too.

    Running labs (live supervisor) are left alone unless ``all_labs``: other users and test runs
    on the machine keep their networks.
    """
    require_lab_host()
    reports = []
    with _run_lock():
        live = set()
        for name in paths.lab_names():
            spec = paths.read_json(paths.lab_dir(name) / "spec.json") or {}
            pid = spec.get("supervisor_pid")
            if pid and paths.pid_alive(pid):
                if not all_labs:
                    live.add(name)
                    continue
                teardown.kill_pids([pid])
            reports.append(teardown.teardown_lab(name))
        # processes tagged for labs that no longer exist (their directory is gone)
        strays = [
            pid for name, pids in teardown.tagged_processes().items() if name not in live for pid in pids
        ]
        if strays:
            teardown.kill_pids(strays)
            reports.append({"name": "(orphans)", "processes": len(strays), "bridges": [], "interfaces": 0})
    return reports


def _running_hint() -> str:
    names = paths.lab_names()
    return f" (running: {', '.join(names)})" if names else " (no labs are running)"


# ---------------------------------------------------------------- inspection


def status(name: str = DEFAULT_NAME) -> dict[str, Any]:
    """The lab's state: hosts, switches (live connection state), links, controller, unapplied properties."""
    from sdnlab.runtime.supervisor import connected_bridges, established_to

    lab = paths.lab_dir(name)
    state = paths.read_json(lab / "state.json")
    if state is None:
        raise LabError(f"no lab named {name!r} is running{_running_hint()}")
    state = dict(state)
    state["supervisor_alive"] = paths.pid_alive(state.get("supervisor_pid"))
    if not state["supervisor_alive"] and state.get("phase") in ("ready", "building"):
        state["phase"] = "dead"
        state["problem"] = (
            f"the supervisor of lab {name!r} is not running (killed?): its hosts are gone; "
            f"run `sdnlab down --name {name}` or `sdnlab clean`"
        )
    if state.get("phase") == "ready":
        bridges = [s["bridge"] for s in state.get("switches", [])]
        ctl = state["controller"]
        if ctl["mode"] in ("builtin", "app") and established_to(ctl["port"]) >= len(bridges):
            live = dict.fromkeys(bridges, True)  # one connection per bridge: all are connected
        elif ctl["mode"] != "none":
            live = connected_bridges(bridges)  # OVS's database (refreshed every few seconds)
        else:
            live = {}
        for switch in state.get("switches", []):
            switch["connected"] = live.get(switch["bridge"], False)
    ctl = state.get("controller") or {}
    if ctl.get("pid"):
        ctl["alive"] = paths.pid_alive(ctl["pid"])
    elif ctl.get("mode") in ("builtin", "app") and state.get("phase") == "ready":
        ctl["alive"] = False  # died; a builtin controller is being restarted (see ``restarts``)
    ctl.setdefault("restarts", 0)
    from sdnlab.runtime.links import down_links

    state["links_down"] = down_links(name)
    queues = paths.read_json(lab / "queues.json")  # the queue classifier's filters (docs/runtime.md)
    if queues:
        state["queues"] = queues
    return state


def _host(name: str, host: str) -> dict[str, Any]:
    state = status(name)
    records: list[dict[str, Any]] = state.get("hosts", [])
    for record in records:
        if record["name"] == host:
            if not paths.pid_alive(record.get("pid")):
                raise LabError(f"host {host!r} of lab {name!r} is not running")
            return record
    known = ", ".join(h["name"] for h in state.get("hosts", [])[:20])
    raise LabError(f"lab {name!r} has no host {host!r} (hosts: {known})")


def host_pid(name: str, host: str) -> int:
    """The pid of a lab host's shell (whose namespaces commands join)."""
    return int(_host(name, host)["pid"])


def host_argv(name: str, host: str, argv: str | Sequence[str]) -> list[str]:
    """The command line that runs ``argv`` (a list, or a shell string) in a lab host's namespaces."""
    if isinstance(argv, str):
        argv = ["sh", "-c", argv]
    return ["mnexec", "-a", str(host_pid(name, host)), *argv]


_mnexec = host_argv


def run_in(
    name: str, host: str, argv: str | Sequence[str], timeout: float | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command in a lab host's namespaces, capturing text output."""
    return subprocess.run(
        _mnexec(name, host, argv),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        env=dict(os.environ, SDNLAB_LAB=name),
    )


def popen_in(name: str, host: str, argv: str | Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """Start a command in a lab host's namespaces (it is killed when the lab goes down)."""
    env = dict(kwargs.pop("env", None) or os.environ, SDNLAB_LAB=name)
    return subprocess.Popen(_mnexec(name, host, argv), env=env, **kwargs)


def bridge(name: str, switch: str) -> str:
    """The OVS bridge name of a topology switch in a running lab."""
    for record in status(name).get("switches", []):
        if record["name"] == switch or record["bridge"] == switch:
            return str(record["bridge"])
    raise LabError(f"lab {name!r} has no switch {switch!r}")


def dump_flows(name: str, switch: str | None = None) -> dict[str, str]:
    """``ovs-ofctl -O OpenFlow13 dump-flows`` text per switch (topology switch name -> text)."""
    state = status(name)
    result = {}
    for record in state.get("switches", []):
        if switch and switch not in (record["name"], record["bridge"]):
            continue
        out = subprocess.run(
            ["ovs-ofctl", "-O", "OpenFlow13", "dump-flows", record["bridge"]], capture_output=True, text=True
        )
        if out.returncode != 0:
            raise LabError(f"dump-flows {record['bridge']}: {out.stderr.strip()}")
        result[record["name"]] = out.stdout
    if switch and not result:
        raise LabError(f"lab {name!r} has no switch {switch!r}")
    return result
