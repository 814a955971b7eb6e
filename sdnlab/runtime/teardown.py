"""Remove everything a lab created: processes, namespaces, veths, OVS bridges (with the QoS rows
their ports used and the lab's OVSDB Manager row), its directory.

Used by the supervisor on a normal stop and by ``sdnlab clean`` after a crash or ``kill -9``.
Processes are found three ways, so nothing escapes: the pids in ``state.json``, every process
sharing a network namespace with a lab host, and every process whose environment carries
``SDNLAB_LAB=<name>`` (the supervisor sets it, and all host shells and controllers inherit it).
A tag counts only in this process's PID namespace: the labs of a classroom sandbox (its own
PID namespace, its own runtime folder) carry tags too, and are that sandbox's business.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from typing import Any

from sdnlab.runtime import paths

LOG = logging.getLogger("sdnlab.teardown")


def _netns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def _pid_namespace(pid: int | str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return None


def _tag_of(pid: int, own_pid_ns: int | None) -> bytes | None:
    """The SDNLAB_LAB value of ``pid``'s environment when it has one and lives in our PID namespace."""
    if _pid_namespace(pid) != own_pid_ns:
        return None  # a sandbox's process (or gone): its labs are not ours to clean
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read().split(b"\0")
    except OSError:
        return None
    for item in environ:
        if item.startswith(b"SDNLAB_LAB="):
            return item[11:]
    return None


def _own_lineage() -> set[int]:
    """This process and its ancestors: never kill the command doing the cleaning."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def lab_processes(name: str, netns_inodes: set[int]) -> list[int]:
    """Pids in the given network namespaces or tagged SDNLAB_LAB=name."""
    tag = name.encode()
    own_ns = _pid_namespace("self")
    root_ns = _netns_inode(1)
    skip = _own_lineage()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid in skip:
            continue
        inode = _netns_inode(pid)
        if inode is not None and inode != root_ns and inode in netns_inodes:
            found.append(pid)
            continue
        if _tag_of(pid, own_ns) == tag:
            found.append(pid)
    return found


def tagged_processes() -> dict[str, list[int]]:
    """Every process of this PID namespace carrying an SDNLAB_LAB tag, by lab name."""
    skip = _own_lineage()
    own_ns = _pid_namespace("self")
    found: dict[str, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        tag = _tag_of(int(entry), own_ns)
        if tag is not None:
            found.setdefault(tag.decode(errors="replace"), []).append(int(entry))
    return found


def kill_pids(pids: Iterable[int], grace: float = 0.0) -> None:
    """SIGTERM then SIGKILL (after ``grace`` seconds) a set of processes."""
    victims = [p for p in set(pids) if p and p > 1]
    if grace > 0:
        for pid in victims:
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(paths.pid_alive(p) for p in victims):
            time.sleep(0.05)
    for pid in victims:
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def existing_interfaces(names: Iterable[str]) -> list[str]:
    """Those of ``names`` that exist as network interfaces in this namespace."""
    return [n for n in names if os.path.exists(f"/sys/class/net/{n}")]


def delete_interfaces(names: Iterable[str]) -> None:
    """Delete interfaces (one batched ``ip`` call); missing ones are skipped."""
    present = existing_interfaces(names)
    if not present:
        return
    batch = "".join(f"link del {n}\n" for n in present)
    subprocess.run(["ip", "-force", "-batch", "-"], input=batch, text=True, capture_output=True)


def delete_bridges(bridges: Iterable[str]) -> None:
    """Delete OVS bridges (one ``ovs-vsctl`` call); missing ones are skipped."""
    names = list(bridges)
    if not names:
        return
    argv = ["ovs-vsctl", "--timeout=30"]
    for i, bridge in enumerate(names):
        if i:
            argv.append("--")
        argv += ["--if-exists", "del-br", bridge]
    subprocess.run(argv, capture_output=True)


def teardown_lab(
    name: str, controller_proc: subprocess.Popen[bytes] | None = None, remove_dir: bool = True
) -> dict[str, Any]:
    """Remove every trace of lab ``name``; returns what was removed (for `clean`'s report)."""
    lab = paths.lab_dir(name)
    spec = paths.read_json(lab / "spec.json") or {}
    state = paths.read_json(lab / "state.json") or {}
    report: dict[str, Any] = {"name": name, "processes": 0, "bridges": [], "interfaces": 0}
    controller_pid = (state.get("controller") or {}).get("pid")
    if controller_proc is not None:
        controller_pid = controller_proc.pid
    if controller_pid and paths.pid_alive(controller_pid):
        kill_pids([controller_pid], grace=2.0)
        report["processes"] += 1
    if controller_proc is not None:
        try:
            controller_proc.wait(timeout=2)
        except Exception:
            pass
    host_pids = [h.get("pid") for h in state.get("hosts", []) if h.get("pid")]
    inodes = {i for i in (_netns_inode(p) for p in host_pids) if i}
    victims = lab_processes(name, inodes)
    victims = [p for p in victims if p != os.getpid()]
    kill_pids(victims + host_pids)
    report["processes"] += len(victims)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(paths.pid_alive(p) for p in victims + host_pids):
        time.sleep(0.05)
    bridges = spec.get("bridges", [])
    present = _existing_bridges(bridges)
    from sdnlab.runtime import ovsdb

    qos_rows = ovsdb.qos_rows_of(present)  # QoS/Queue rows outlive the ports: found before, removed after
    delete_bridges(present)
    ovsdb.destroy_qos(*qos_rows)
    report["bridges"] = present
    if spec.get("ovsdb"):
        report["managers"] = ovsdb.close_for(name)
    intfs = existing_interfaces(spec.get("switch_interfaces", []))
    delete_interfaces(intfs)
    report["interfaces"] = len(intfs)
    if remove_dir:
        shutil.rmtree(lab, ignore_errors=True)
    return report


def _existing_bridges(bridges: list[str]) -> list[str]:
    if not bridges:
        return []
    out = subprocess.run(
        ["ovs-vsctl", "--timeout=10", "list-br"], capture_output=True, text=True
    ).stdout.split()
    return [b for b in bridges if b in set(out)]
