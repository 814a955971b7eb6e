"""Start, inspect and stop VNF processes inside a running lab's hosts.

A VNF instance runs in a lab host's network namespace (``sdnlab.runtime.api.popen_in``);
its files live in ``/run/sdnlab/<lab>/vnfs/<vnf>/``: ``record.json`` (kind, host, pid,
ports, config), the runner's ``meta.json``, ``stats-w<N>.json`` per worker and
``log.jsonl``. Stopping the lab kills every process in its hosts' namespaces, VNFs included.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from sdnlab.vnfs.errors import VnfRunError

ONE_ARMED_PORTS = ("arm",)
BUMP_PORTS = ("inside", "outside")


def vnfs_dir(lab: str) -> Path:
    """The folder of a lab's VNF instances."""
    from sdnlab.runtime import paths

    return paths.lab_dir(lab) / "vnfs"


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not running
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def default_ports(interfaces: list[str]) -> dict[str, str]:
    """Logical ports for a host's interfaces: one -> one-armed ``arm``; two or more -> inside/outside."""
    if not interfaces:
        raise VnfRunError("the host has no interfaces to run a VNF on")
    if len(interfaces) == 1:
        return {ONE_ARMED_PORTS[0]: interfaces[0]}
    return {BUMP_PORTS[0]: interfaces[0], BUMP_PORTS[1]: interfaces[1]}


def start(lab: str, kind: str, host: str, config: str | None = None, vnf_name: str | None = None,
          ports: dict[str, str] | None = None, workers: int = 1, mode: str = "recv", timeout: float = 10.0) -> dict:
    """Validate the VNF and its config, start it in ``host`` of ``lab``, wait until it runs."""
    from sdnlab.runtime import api
    from sdnlab.vnfs.framework.config import load_yaml
    from sdnlab.vnfs.framework.loader import load_vnf_class

    name = vnf_name or host
    cls = load_vnf_class(kind)
    record = next((h for h in api.status(lab).get("hosts", []) if h["name"] == host), None)
    if record is None:
        api.host_pid(lab, host)  # raises the runtime's "no host" error with the host list
    interfaces = [i["name"] for i in record.get("interfaces", [])]
    ports = ports or default_ports(interfaces)
    for ifname in ports.values():
        if ifname not in interfaces:
            raise VnfRunError(f"host {host!r} has no interface {ifname!r} (interfaces: {', '.join(interfaces)})")
    config_path = str(Path(config).resolve()) if config else None
    data = load_yaml(config_path) if config_path else None
    cls(data, name=name, ports=tuple(ports), interfaces=ports, source=config or "<config>").close()  # fail fast
    directory = vnfs_dir(lab) / name
    existing = _read(directory / "record.json")
    if existing and _alive(existing.get("pid")):
        raise VnfRunError(f"VNF {name!r} already runs in lab {lab!r} (pid {existing['pid']}); stop it first")
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("stats-w*.json"):
        old.unlink()
    argv = [sys.executable, "-m", "sdnlab.vnfs.framework.runner", "--kind", str(Path(kind).resolve()) if kind.endswith(".py") else kind,
            "--name", name, "--state-dir", str(directory), "--workers", str(workers), "--mode", mode]
    if config_path:
        argv += ["--config", config_path]
    for port, ifname in ports.items():
        argv += ["--port", f"{port}={ifname}"]
    stderr = open(directory / "stderr.log", "w")
    # an inherited handle on this (root) network namespace: VNFs that talk to the controller
    # (the DPI VNF's quarantine requests) enter it from a helper thread, see vnfs/dpi_vnf/quarantine.py
    root_netns = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        env = dict(os.environ, SDNLAB_ROOT_NETNS=f"/proc/self/fd/{root_netns}")
        proc = api.popen_in(lab, host, argv, stdin=subprocess_devnull(), stdout=stderr, stderr=stderr,
                            start_new_session=True, pass_fds=(root_netns,), env=env)
    finally:
        os.close(root_netns)
        stderr.close()
    info = {"name": name, "kind": kind, "lab": lab, "host": host, "pid": proc.pid, "ports": ports,
            "config": config_path, "workers": workers, "mode": mode, "started": time.time()}
    (directory / "record.json").write_text(json.dumps(info))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (directory / "stderr.log").read_text().strip().splitlines()[-3:]
            raise VnfRunError(f"VNF {name!r} exited at start (status {proc.returncode}): {' | '.join(tail)}")
        if all((directory / f"stats-w{i}.json").exists() for i in range(workers)):
            return info
        time.sleep(0.05)
    raise VnfRunError(f"VNF {name!r} did not report within {timeout:.0f}s; see {directory / 'stderr.log'}")


def subprocess_devnull() -> int:
    """The DEVNULL marker of subprocess (kept here so tests can see what stdin is)."""
    import subprocess

    return subprocess.DEVNULL


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def merge_stats(parts: list[dict]) -> dict[str, Any]:
    """Sum the per-worker stats files into one view (counters, ports, rules, backends)."""
    merged: dict[str, Any] = {"workers": len(parts)}

    def add(into: dict, src: dict) -> None:
        for key, value in src.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, dict)):
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


def status(lab: str, vnf_name: str | None = None) -> list[dict]:
    """Each VNF of the lab (or just ``vnf_name``): its record, whether it runs, merged counters."""
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
        result.append({**record, "running": _alive(record.get("pid")), "stats": merge_stats(parts)})
    return result


def signal_vnf(lab: str, vnf_name: str, signum: int) -> dict:
    """Send a signal to a VNF's process (SIGHUP reloads its config)."""
    record = _read(vnfs_dir(lab) / vnf_name / "record.json")
    if record is None:
        raise VnfRunError(f"lab {lab!r} has no VNF named {vnf_name!r}")
    if not _alive(record.get("pid")):
        raise VnfRunError(f"VNF {vnf_name!r} of lab {lab!r} is not running")
    os.kill(record["pid"], signum)
    return record


def stop(lab: str, vnf_name: str, timeout: float = 5.0) -> dict:
    """Stop a VNF: SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
    record = _read(vnfs_dir(lab) / vnf_name / "record.json")
    if record is None:
        raise VnfRunError(f"lab {lab!r} has no VNF named {vnf_name!r}")
    pid = record.get("pid")
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if _alive(pid):
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
