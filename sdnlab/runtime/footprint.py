"""What a running lab costs: its processes and their memory (proportional set size, PSS).

PSS divides pages shared between processes (Python's libraries, bash) among them, so the sum
over labs adds up to what the machine really spends; RSS is given too. Open vSwitch's own
memory is shared by every lab and reported separately (``ovs_vswitchd_kib``).
"""

from __future__ import annotations

import os
from typing import Any

from sdnlab.runtime import paths, teardown


def _field(path: str, key: str) -> int:
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(key):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def process_memory(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of a process in KiB (0, 0 when it is gone)."""
    return _field(f"/proc/{pid}/smaps_rollup", "Pss:"), _field(f"/proc/{pid}/status", "VmRSS:")


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return "?"
    text = b" ".join(argv).decode(errors="replace")
    if "sdnlab.runtime.watcher" in text or "sdnlab.runtime.supervisor" in text:
        return "supervisor"
    if "sdnlab.controller.runner" in text:
        return "controller"
    if "mininet:" in text:
        return "shell"
    if "sdnlab.vnfs" in text:
        return "vnf"
    return os.path.basename(argv[0].decode(errors="replace")) or "?"


def lab_memory(name: str) -> dict[str, Any]:
    """Processes and memory of lab ``name``: totals and per kind (supervisor, controller, shell, vnf...)."""
    state = paths.read_json(paths.lab_dir(name) / "state.json") or {}
    inodes = set()
    for host in state.get("hosts", []):
        try:
            inodes.add(os.stat(f"/proc/{host['pid']}/ns/net").st_ino)
        except (OSError, KeyError):
            pass
    pids = set(teardown.lab_processes(name, inodes))
    if state.get("supervisor_pid"):
        pids.add(state["supervisor_pid"])
    kinds: dict[str, dict[str, int]] = {}
    total_pss = total_rss = 0
    for pid in sorted(pids):
        pss, rss = process_memory(pid)
        kind = _command(pid)
        entry = kinds.setdefault(kind, {"processes": 0, "pss_kib": 0, "rss_kib": 0})
        entry["processes"] += 1
        entry["pss_kib"] += pss
        entry["rss_kib"] += rss
        total_pss += pss
        total_rss += rss
    return {
        "name": name,
        "processes": len(pids),
        "pss_mib": round(total_pss / 1024, 1),
        "rss_mib": round(total_rss / 1024, 1),
        "by_kind": kinds,
    }


def ovs_vswitchd_kib() -> int:
    """RSS of ovs-vswitchd (shared by every lab), in KiB; 0 when not found."""
    try:
        with open("/run/openvswitch/ovs-vswitchd.pid") as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return 0
    return process_memory(pid)[1]
