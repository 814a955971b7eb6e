"""Start, inspect and stop VNF processes inside a running lab's hosts.

A VNF instance runs in a lab host's network namespace (``sdnlab.runtime.api.popen_in``);
its files live in ``/run/sdnlab/<lab>/vnfs/<vnf>/``: ``record.json`` (kind, host, pid,
ports, config), the runner's ``meta.json``, ``stats-w<N>.json`` per worker and
``log.jsonl``. Stopping the lab kills every process in its hosts' namespaces, VNFs included.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from sdnlab.jsonio import write_atomic
from sdnlab.runtime.paths import pid_alive as _alive
from sdnlab.vnfs.errors import VnfOptionError, VnfRunError

ONE_ARMED_PORTS = ("arm",)
BUMP_PORTS = ("inside", "outside")
MAX_WORKERS = 16
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_options(mode: str, workers: int, vnf_name: str | None, ports: dict[str, str] | None) -> None:
    """Reject bad run options before anything is started (a pure check)."""
    from sdnlab.vnfs.framework.engine import MODES

    if mode not in MODES:
        raise VnfOptionError(f"--mode {mode!r}: expected one of {', '.join(MODES)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise VnfOptionError(f"--workers {workers!r}: expected an integer in 1..{MAX_WORKERS}")
    if vnf_name is not None and not _NAME_RE.fullmatch(vnf_name):
        raise VnfOptionError(
            f"--vnf {vnf_name!r}: expected a name of letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit)"
        )
    for port in ports or {}:
        if not _NAME_RE.fullmatch(port):
            raise VnfOptionError(
                f"--port {port!r}=...: expected a port name of letters, digits, '.', '_' or '-'"
            )


def vnfs_dir(lab: str) -> Path:
    """The folder of a lab's VNF instances."""
    from sdnlab.runtime import paths

    return paths.lab_dir(lab) / "vnfs"


def default_ports(interfaces: list[str]) -> dict[str, str]:
    """Logical ports for a host's interfaces: one -> one-armed ``arm``; two or more -> inside/outside."""
    if not interfaces:
        raise VnfRunError("the host has no interfaces to run a VNF on")
    if len(interfaces) == 1:
        return {ONE_ARMED_PORTS[0]: interfaces[0]}
    return {BUMP_PORTS[0]: interfaces[0], BUMP_PORTS[1]: interfaces[1]}


def start(
    lab: str,
    kind: str,
    host: str,
    config: str | None = None,
    vnf_name: str | None = None,
    ports: dict[str, str] | None = None,
    workers: int = 1,
    mode: str = "recv",
    timeout: float = 10.0,
    config_name: str | None = None,
) -> dict:
    """Validate the VNF and its config, start it in ``host`` of ``lab``, wait until it runs.

    ``config_name`` is how error messages call the config (a lab renders the trainee's file into
    its state folder: its errors must name the trainee's file, whose lines are the same).
    """
    from sdnlab import textfile
    from sdnlab.runtime import api
    from sdnlab.vnfs.errors import VnfConfigError
    from sdnlab.vnfs.framework.config import load_yaml_text
    from sdnlab.vnfs.framework.loader import check_vnf, load_vnf_class

    check_options(mode, workers, vnf_name, ports)
    name = vnf_name or host
    if vnf_name is None and not _NAME_RE.fullmatch(name):
        raise VnfOptionError(f"host name {host!r} cannot name a VNF; give --vnf NAME")
    cls = load_vnf_class(kind)
    lab_status = api.status(lab)
    record = next((h for h in lab_status.get("hosts", []) if h["name"] == host), None)
    if record is None:
        api.host_pid(lab, host)  # raises the runtime's "no host" error with the host list
        raise VnfRunError(f"lab {lab!r} has no host {host!r}")
    interfaces = [i["name"] for i in record.get("interfaces", [])]
    ports = ports or default_ports(interfaces)
    for ifname in ports.values():
        if ifname not in interfaces:
            raise VnfRunError(
                f"host {host!r} has no interface {ifname!r} (interfaces: {', '.join(interfaces)})"
            )
    config_path = str(Path(config).resolve()) if config else None
    shown = config_name or config or "<config>"
    data = (
        load_yaml_text(textfile.read_text(config, VnfConfigError, "config", name=shown), shown)
        if config
        else None
    )
    check_vnf(cls, data, name=name, ports=tuple(ports), interfaces=ports, source=shown)  # fail fast
    directory = vnfs_dir(lab) / name
    existing = _read(directory / "record.json")
    if existing and _alive(existing.get("pid")):
        raise VnfRunError(f"VNF {name!r} already runs in lab {lab!r} (pid {existing['pid']}); stop it first")
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("stats-w*.json"):
        old.unlink()
    kind_arg = str(Path(kind).resolve()) if kind.endswith(".py") else kind
    argv = [
        sys.executable,
        "-m",
        "sdnlab.vnfs.framework.runner",
        "--kind",
        kind_arg,
        "--name",
        name,
        "--state-dir",
        str(directory),
        "--workers",
        str(workers),
        "--mode",
        mode,
    ]
    if config_path:
        argv += ["--config", config_path]
    for port, ifname in ports.items():
        argv += ["--port", f"{port}={ifname}"]
    controller = controller_url(lab_status.get("controller") or {})
    if controller:
        argv += ["--controller", controller, "--host", host]
    stderr = open(directory / "stderr.log", "w")  # noqa: SIM115  # closed in the finally below, once handed to the child
    # an inherited handle on this (root) network namespace: VNFs that talk to the controller
    # (offload and quarantine requests) enter it from a helper thread, see vnfs/framework/rest.py
    root_netns = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        env = dict(os.environ, SDNLAB_ROOT_NETNS=f"/proc/self/fd/{root_netns}")
        proc = api.popen_in(
            lab,
            host,
            argv,
            stdin=subprocess_devnull(),
            stdout=stderr,
            stderr=stderr,
            start_new_session=True,
            pass_fds=(root_netns,),
            env=env,
        )
    finally:
        os.close(root_netns)
        stderr.close()
    info = {
        "name": name,
        "kind": kind,
        "kind_path": kind_arg,
        "lab": lab,
        "host": host,
        "pid": proc.pid,
        "ports": ports,
        "config": config_path,
        "workers": workers,
        "mode": mode,
        "controller": controller,
        "started": time.time(),
        "code_sha256": code_digest(kind_arg),
    }
    write_atomic(directory / "record.json", info, indent=None, sort_keys=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (directory / "stderr.log").read_text(errors="replace").strip().splitlines()[-3:]
            _forget(directory)
            raise VnfRunError(f"VNF {name!r} exited at start (status {proc.returncode}): {' | '.join(tail)}")
        if all((directory / f"stats-w{i}.json").exists() for i in range(workers)):
            return info
        time.sleep(0.05)
    _kill_started(proc)
    _forget(directory)
    raise VnfRunError(
        f"VNF {name!r} did not report within {timeout:.0f}s and was stopped; see {directory / 'stderr.log'}"
    )


def controller_url(controller: dict) -> str | None:
    """The REST API VNFs send offload requests to: the lab's builtin controller's, else None."""
    if controller.get("mode") != "builtin" or not controller.get("rest_port"):
        return None
    return f"http://{controller.get('host') or '127.0.0.1'}:{controller['rest_port']}"


def _forget(directory: Path) -> None:
    """Remove a failed start's record so ``status`` shows nothing (stderr.log stays for diagnosis)."""
    for leftover in ("record.json", "meta.json", "offload.jsonl"):
        (directory / leftover).unlink(missing_ok=True)
    for old in directory.glob("stats-w*.json"):
        old.unlink(missing_ok=True)


def _kill_started(proc: Any) -> None:
    """Stop the runner this call started (its own session), and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except Exception:
        pass


def subprocess_devnull() -> int:
    """The DEVNULL marker of subprocess (kept here so tests can see what stdin is)."""
    import subprocess

    return subprocess.DEVNULL


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


#: numbers in stats files that are settings or readings, not counts: taken from the first worker
NOT_SUMMED = frozenset(("port", "weight", "last_check"))


def merge_stats(parts: list[dict]) -> dict[str, Any]:
    """Sum the per-worker stats files into one view (counters, ports, rules, backends, and the
    same nested under a chain's ``stages``); settings such as a backend's port are not summed."""
    merged: dict[str, Any] = {"workers": len(parts)}

    def add(into: dict, src: dict) -> None:
        for key, value in src.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, dict)) or key in NOT_SUMMED:
                into.setdefault(key, value)
            elif isinstance(value, dict):
                add(into.setdefault(key, {}), value)
            else:
                into[key] = into.get(key, 0) + value

    for part in parts:
        part = {k: v for k, v in part.items() if k not in ("pid", "started", "updated")}
        add(merged, part)
    if parts:
        merged["updated"] = max(p.get("updated", 0) for p in parts)
    return merged


#: a worker writes its stats about once a second (engine tick); silent this long, it is stuck
STALE_AFTER_S = 5.0


def worker_health(parts: list[dict], running: bool, now: float | None = None) -> dict[str, Any]:
    """``state`` (running, stuck, stopped), the silent workers and how long, for ``status``.

    A process that is alive but whose workers stopped writing their stats (a ``while True`` in
    ``handle``) is ``stuck``: it passes no packets, though its process still runs.
    """
    if not running:
        return {"state": "stopped", "stuck_workers": [], "silent_s": 0.0}
    now = time.time() if now is None else now
    silent = [
        (i, now - float(p["updated"]))
        for i, p in enumerate(parts)
        if isinstance(p.get("updated"), (int, float))
    ]
    stuck = [(i, age) for i, age in silent if age > STALE_AFTER_S]
    return {
        "state": "stuck" if stuck else "running",
        "stuck_workers": [i for i, _ in stuck],
        "silent_s": round(max((age for _, age in stuck), default=0.0), 1),
    }


def last_error(log_path: Path, tail_bytes: int = 65536) -> str | None:
    """The latest ``handler_error``/``tick_error`` of a VNF's log, as ``error at file:line``."""
    try:
        size = log_path.stat().st_size
    except OSError:
        return None
    for event in reversed(log_events(log_path, max(0, size - tail_bytes))):
        if event.get("event") in ("handler_error", "tick_error"):
            at = event.get("at")
            return f"{event.get('error')}" + (f" at {at}" if at else "")
    return None


def code_digest(kind_path: str | None) -> str | None:
    """SHA-256 of a researcher's VNF file (None for a built-in kind or an unreadable file)."""
    if not kind_path or not kind_path.endswith(".py"):
        return None
    try:
        return hashlib.sha256(Path(kind_path).read_bytes()).hexdigest()
    except OSError:
        return None


def _code_changed(record: dict) -> bool:
    """Whether a researcher's VNF file differs from the code the running VNF started with."""
    started_with = record.get("code_sha256")
    return started_with is not None and code_digest(record.get("kind_path")) != started_with


def status(lab: str, vnf_name: str | None = None) -> list[dict]:
    """Each VNF of the lab (or just ``vnf_name``): its record, whether it runs, merged counters,
    ``state`` (``stuck`` when its workers stopped reporting), handler errors and the last one."""
    directory = vnfs_dir(lab)
    if not directory.parent.exists():
        raise VnfRunError(f"no lab named {lab!r} is running")
    names = [vnf_name] if vnf_name else sorted(p.name for p in directory.glob("*") if p.is_dir())
    result = []
    for name in names:
        record = _read(directory / name / "record.json")
        if record is None:
            if vnf_name:
                raise VnfRunError(f"lab {lab!r} has no VNF named {name!r}")
            continue
        parts = [p for p in (_read(f) for f in sorted((directory / name).glob("stats-w*.json"))) if p]
        running = _alive(record.get("pid"))
        stats = merge_stats(parts)
        result.append(
            {
                **record,
                "running": running,
                **worker_health(parts, running),
                "handler_errors": stats.get("counters", {}).get("handler_errors", 0),
                "last_error": last_error(directory / name / "log.jsonl"),
                "code_changed": _code_changed(record),
                "stats": stats,
            }
        )
    return result


def signal_vnf(lab: str, vnf_name: str, signum: int) -> dict:
    """Send a signal to a VNF's process (``reload`` validates the config before its SIGHUP)."""
    record = _running_record(lab, vnf_name)
    os.kill(record["pid"], signum)
    return record


def stop(lab: str, vnf_name: str, timeout: float = 5.0) -> dict:
    """Stop a VNF: SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
    record = _read(vnfs_dir(lab) / vnf_name / "record.json")
    if record is None:
        raise VnfRunError(f"lab {lab!r} has no VNF named {vnf_name!r}")
    pid = record.get("pid")
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)
    _reap(pid)
    return {**record, "running": _alive(pid)}


def _reap(pid: int | None) -> None:
    if not pid:
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def reload(lab: str, vnf_name: str, timeout: float = 5.0) -> dict:
    """Validate the VNF's config file here (the VNF's own loader), then SIGHUP it and wait until
    it logs ``reload`` (``"confirmed": True``) or ``reload_failed`` (raised as VnfConfigError).

    A reload applies the config only: ``"code_changed"`` says the VNF's .py file changed since it
    started (restart it to run the new code). No confirmation within ``timeout`` is an error that
    says why when it can (workers that stopped reporting are stuck in the VNF's code)."""
    from sdnlab.vnfs.errors import VnfConfigError
    from sdnlab.vnfs.framework.config import load_yaml
    from sdnlab.vnfs.framework.loader import check_vnf, load_vnf_class

    record = _running_record(lab, vnf_name)
    config = record.get("config")
    if not config:
        raise VnfRunError(
            f"VNF {vnf_name!r} of lab {lab!r} was started without --config: there is nothing to reload"
        )
    cls = load_vnf_class(record.get("kind_path") or record["kind"])
    ports = record.get("ports") or {}
    check_vnf(cls, load_yaml(config), name=vnf_name, ports=tuple(ports), interfaces=ports, source=config)
    log_path = vnfs_dir(lab) / vnf_name / "log.jsonl"
    offset = log_path.stat().st_size if log_path.exists() else 0
    os.kill(record["pid"], signal.SIGHUP)
    deadline = time.monotonic() + timeout
    code_changed = _code_changed(record)
    while time.monotonic() < deadline:
        for event in log_events(log_path, offset):
            if event.get("event") == "reload":
                return {**record, "confirmed": True, "code_changed": code_changed}
            if event.get("event") == "reload_failed":
                raise VnfConfigError(
                    f"VNF {vnf_name!r} kept its old config: {event.get('error', 'reload failed')}"
                )
        time.sleep(0.05)
    parts = [p for p in (_read(f) for f in sorted((vnfs_dir(lab) / vnf_name).glob("stats-w*.json"))) if p]
    health = worker_health(parts, _alive(record.get("pid")))
    if health["state"] == "stuck":
        why = (
            f"its worker(s) {', '.join(map(str, health['stuck_workers']))} stopped reporting "
            f"{health['silent_s']:.0f} s ago (stuck in the VNF's code?); stop it and start it again"
        )
    else:
        why = f"the VNF did not log the reload; see {log_path}"
    raise VnfRunError(f"VNF {vnf_name!r} of lab {lab!r}: reload not confirmed within {timeout:g} s: {why}")


def log_events(path: Path, offset: int = 0) -> list[dict]:
    """The JSON events appended to a log file after byte ``offset`` (complete lines only)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return []
    events = []
    for line in data.split(b"\n")[:-1]:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def _running_record(lab: str, vnf_name: str) -> dict:
    record = _read(vnfs_dir(lab) / vnf_name / "record.json")
    if record is None:
        raise VnfRunError(f"lab {lab!r} has no VNF named {vnf_name!r}")
    if not _alive(record.get("pid")):
        raise VnfRunError(f"VNF {vnf_name!r} of lab {lab!r} is not running")
    return record
