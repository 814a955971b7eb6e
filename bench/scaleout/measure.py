"""Measures one sandbox container's cost on this host: start latency, memory, CPU, grading time.

Runs the ``container`` backend directly (root, podman, the sandbox image): starts N sandboxes
of lab 3 one after another, reads each container's cgroup memory and CPU through ``podman
stats``, grades each once, stops them. Writes bench/results/scaleout-measure.json.
Usage: python -m bench.scaleout.measure [N]
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sdnlab.classroom import podspec
from sdnlab.classroom.backends.container import ContainerBackend

LAB = "smart_meters"
IDLE_WINDOW_S = 10.0
OUT = Path(__file__).resolve().parents[1] / "results" / "scaleout-measure.json"


def stats(names: list[str]) -> dict[str, dict]:
    """``podman stats`` of the named containers: memory bytes and CPU percent."""
    done = subprocess.run(
        ["podman", "stats", "--no-stream", "--format", "json", *names], capture_output=True, text=True
    )
    rows = json.loads(done.stdout or "[]")
    out = {}
    for row in rows:
        mem = row.get("mem_usage", "0B / 0B").split("/")[0].strip()
        out[row["name"]] = {
            "memory_mib": _mib(mem),
            "cpu_percent": float(row.get("cpu_percent", "0%").rstrip("%")),
        }
    return out


def cpu_seconds(sandbox: str) -> float:
    """CPU time used so far by a sandbox container (cgroup v1 cpuacct, or v2 cpu.stat)."""
    path = subprocess.run(
        ["podman", "inspect", "--format", "{{.State.CgroupPath}}", podspec.dns_name(sandbox)],
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    v1 = Path("/sys/fs/cgroup/cpuacct") / path.lstrip("/") / "cpuacct.usage"
    if v1.exists():
        return int(v1.read_text()) / 1e9
    for line in (Path("/sys/fs/cgroup") / path.lstrip("/") / "cpu.stat").read_text().splitlines():
        if line.startswith("usage_usec"):
            return int(line.split()[1]) / 1e6
    return 0.0


def _mib(text: str) -> float:
    units = {"kB": 1e3 / 2**20, "MB": 1e6 / 2**20, "GB": 1e9 / 2**20, "B": 1 / 2**20}
    for unit, factor in units.items():
        if text.endswith(unit):
            return round(float(text[: -len(unit)]) * factor, 1)
    return 0.0


def main(count: int = 3) -> dict:
    state = Path(tempfile.mkdtemp(prefix="sdnlab-measure-"))
    backend = ContainerBackend(state)
    boxes = [f"ms{i}" for i in range(count)]
    starts, grades = [], []
    try:
        for box in boxes:
            t0 = time.monotonic()
            timing = backend.start(box, LAB)["timing"]
            starts.append({"total_s": round(time.monotonic() - t0, 2), **timing})
        time.sleep(5)
        idle = stats([podspec.dns_name(b) for b in boxes])
        before = {b: cpu_seconds(b) for b in boxes}
        time.sleep(IDLE_WINDOW_S)
        for box in boxes:
            idle[podspec.dns_name(box)]["idle_cores"] = round(
                (cpu_seconds(box) - before[box]) / IDLE_WINDOW_S, 3
            )
        for box in boxes:
            t0 = time.monotonic()
            backend.grade(box, include_hidden=False)
            grades.append(round(time.monotonic() - t0, 2))
    finally:
        for box in boxes:
            backend.stop(box)
        shutil.rmtree(state, ignore_errors=True)
    result = {
        "lab": LAB,
        "sandboxes": count,
        "start_s": starts,
        "grade_s": grades,
        "idle": idle,
        "memory_mib_mean": round(statistics.mean(v["memory_mib"] for v in idle.values()), 1),
        "memory_mib_max": max(v["memory_mib"] for v in idle.values()),
        "idle_cores_mean": round(statistics.mean(v["idle_cores"] for v in idle.values()), 3),
        "grade_cpu_note": "grading runs in the container; its CPU is part of grade_s on a shared 2-core host",
        "host_cores": len(__import__("os").sched_getaffinity(0)),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3), indent=2))
