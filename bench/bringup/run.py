"""Bring-up benchmark: `sdnlab up`/`down` against a plain Mininet script on the same graph.

For smart_meter at 50, 200 and 1000 meters: time until every switch is connected to its
controller, and time to tear down, for (a) the sdnlab runtime with its builtin controller and
(b) plain Mininet (stock OVSSwitch on the userspace datapath, a minimal os-ken controller),
one after the other in the same run. Writes bench/results/bringup.json with ratios.
Targets: 1000 meters ready in <= 30 s, and no slower than plain Mininet.

The ``footprint`` section measures what one idle small lab costs (PSS of its supervisor,
controller and shells, see ``sdnlab.runtime.footprint``) for the builtin controller and for
labs without one; target: <= 60 MiB per small lab. ``BENCH_BRINGUP_PARTS=footprint`` runs only
that section and keeps the scale rows of the previous results file.

The ``sandbox`` section compares the classroom's local backend in its two isolations on lab 3
(smart meters), alternating, ``BENCH_SANDBOX_ROUNDS`` times each: ``shared`` (the lab on the
host's Open vSwitch, ``LocalRunner``) and ``own-ovs`` (``NamespaceBackend``: the lab in its own
namespaces with its own ovsdb-server, ovs-vswitchd and agent). Per sandbox: time to ready,
PSS of its processes idle 3 s after ready, CPU seconds of those processes over 10 idle
seconds, and time to stop; with own-ovs / shared ratios. ``BENCH_BRINGUP_PARTS=sandbox``
runs only that section.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from sdnlab.runtime import api
from sdnlab.runtime.footprint import ovs_vswitchd_kib

RESULTS = Path(__file__).resolve().parents[1] / "results" / "bringup.json"
SIZES = [int(x) for x in os.environ.get("BENCH_BRINGUP_METERS", "50,200,1000").split(",")]
PARTS = set(os.environ.get("BENCH_BRINGUP_PARTS", "scale,footprint").split(","))
FOOTPRINT_LABS = (
    ("linear", {"switches": 3}, "builtin"),
    ("linear", {"switches": 3}, "none"),
    ("smart_meter", {"meters": 10}, "builtin"),
)
FOOTPRINT_TARGET_MIB = 60.0
# measured with the same method (sum of PSS over the lab's processes, idle 3 s after ready) on
# this code before the supervisor became a watcher (commit 8b68856)
FOOTPRINT_BEFORE_MIB = {"linear builtin": 86.0, "linear none": 35.6}


def footprint_run(topology: str, params: dict, controller: str) -> dict:
    """Memory of one idle lab, a few seconds after it is ready."""
    from sdnlab.runtime.footprint import lab_memory

    name = f"bench-fp-{controller}"
    try:
        api.up(topology, params, name=name, controller=controller)
    except Exception as exc:
        return {"topology": topology, "controller": controller, "error": str(exc).splitlines()[0]}
    try:
        time.sleep(3.0)
        memory = lab_memory(name)
    finally:
        api.down(name)
    key = f"{topology} {controller}"
    return {
        "topology": topology,
        "params": params,
        "controller": controller,
        "pss_mib": memory["pss_mib"],
        "rss_mib": memory["rss_mib"],
        "processes": memory["processes"],
        "by_kind_pss_mib": {k: round(v["pss_kib"] / 1024, 1) for k, v in memory["by_kind"].items()},
        "before_pss_mib": FOOTPRINT_BEFORE_MIB.get(key),
        "error": None,
    }


SANDBOX_LAB = "smart_meters"
SANDBOX_ROUNDS = int(os.environ.get("BENCH_SANDBOX_ROUNDS", "3"))
IDLE_CPU_S = 10.0


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def _pid_namespace_members(pid: int) -> list[int]:
    """Host pids of every process in the PID namespace of ``pid``."""
    inode = os.stat(f"/proc/{pid}/ns/pid").st_ino
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.stat(entry / "ns" / "pid").st_ino == inode:
                    members.append(int(entry.name))
            except OSError:
                pass
    return members


def sandbox_run(isolation: str, state: Path, index: int) -> dict:
    """Start, measure idle, stop one sandbox of lab 3 in ``isolation``."""
    from sdnlab.classroom.backends.namespaces import NamespaceBackend
    from sdnlab.classroom.runner import LocalRunner
    from sdnlab.runtime.footprint import lab_memory, process_memory

    name = f"bsb{index}{'o' if isolation == 'own-ovs' else 's'}"
    backend = NamespaceBackend(state) if isolation == "own-ovs" else LocalRunner(state, network=True)
    started = time.monotonic()
    try:
        backend.start(name, SANDBOX_LAB)
    except Exception as exc:
        backend.stop(name)
        return {"isolation": isolation, "error": str(exc).splitlines()[0]}
    ready = time.monotonic() - started
    try:
        time.sleep(3.0)
        if isolation == "own-ovs":
            record = json.loads((state / "ns" / name / "box.json").read_text())
            init = int(Path(f"/proc/{record['pid']}/task/{record['pid']}/children").read_text().split()[0])
            pids = _pid_namespace_members(init)
            pss_mib = sum(process_memory(p)[0] for p in pids) / 1024
        else:
            memory = lab_memory(name)
            pss_mib = memory["pss_mib"]
            from sdnlab.runtime import paths, teardown

            lab_state = paths.read_json(paths.lab_dir(name) / "state.json") or {}
            hosts = [h["pid"] for h in lab_state.get("hosts", []) if h.get("pid")]
            inodes = {os.stat(f"/proc/{p}/ns/net").st_ino for p in hosts if Path(f"/proc/{p}").exists()}
            pids = sorted(
                set(teardown.lab_processes(name, inodes)) | {lab_state.get("supervisor_pid") or 0} - {0}
            )
        before = _cpu_ticks(pids)
        time.sleep(IDLE_CPU_S)
        idle_cpu = (_cpu_ticks(pids) - before) / os.sysconf("SC_CLK_TCK")
    finally:
        stop_began = time.monotonic()
        backend.stop(name)
        stop_s = time.monotonic() - stop_began
    return {
        "isolation": isolation,
        "ready_s": round(ready, 2),
        "idle_pss_mib": round(pss_mib, 1),
        "processes": len(pids),
        "idle_cpu_percent": round(100 * idle_cpu / IDLE_CPU_S, 2),
        "stop_s": round(stop_s, 2),
        "error": None,
    }


def sandbox_section() -> dict:
    import shutil
    import statistics
    import tempfile

    state = Path(tempfile.mkdtemp(prefix="sdnlab-bench-sandbox-"))
    os.environ["SDNLAB_HOME"] = str(state / "home")
    runs = []
    try:
        for index in range(SANDBOX_ROUNDS):
            for isolation in ("shared", "own-ovs"):
                row = sandbox_run(isolation, state, index)
                print(json.dumps(row), flush=True)
                runs.append(row)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    summary: dict = {}
    for isolation in ("shared", "own-ovs"):
        good = [r for r in runs if r["isolation"] == isolation and not r["error"]]
        summary[isolation] = {
            key: round(statistics.median(r[key] for r in good), 2) if good else None
            for key in ("ready_s", "idle_pss_mib", "idle_cpu_percent", "stop_s")
        }
    ratios = {
        key: round(summary["own-ovs"][key] / summary["shared"][key], 2)
        for key in ("ready_s", "idle_pss_mib", "idle_cpu_percent", "stop_s")
        if summary["own-ovs"][key] is not None and summary["shared"][key]
    }
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_avg_at_start": os.getloadavg(),
        "lab": SANDBOX_LAB,
        "method": "classroom local backend, one sandbox at a time, alternating isolations; medians of "
        f"{SANDBOX_ROUNDS} rounds; PSS summed over the sandbox's processes idle 3 s after ready "
        "(own-ovs: every process of its PID namespace, its agent and OVS daemons included; shared: "
        "the lab's supervisor, controller and shells, the host's OVS and the agent not included); "
        f"idle CPU of the same processes over {IDLE_CPU_S:g} s",
        "runs": runs,
        "median": summary,
        "own_ovs_over_shared": ratios,
    }


def sdnlab_run(meters: int) -> dict:
    name = f"bench-up-{meters}"
    started = time.monotonic()
    try:
        state = api.up("smart_meter", {"meters": meters}, name=name, controller="builtin")
    except Exception as exc:
        return {"error": str(exc).splitlines()[0]}
    ready = time.monotonic() - started
    connected = all(s["connected"] for s in state["switches"])
    report = api.down(name)
    return {
        "ready_s": round(ready, 3),
        "supervisor_ready_s": state["ready_s"],
        "down_s": report["down_s"],
        "connected": connected,
        "hosts": len(state["hosts"]),
        "switches": len(state["switches"]),
        "error": None,
    }


def plain_run(meters: int) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bringup.plain_mininet",
            "smart_meter",
            json.dumps({"meters": meters}),
            "6699",
            "240",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=900,
    )
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if not lines:
        return {"error": f"plain Mininet script failed: {out.stderr.strip()[-300:]}"}
    return json.loads(lines[-1])


def main() -> int:
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    rows = [] if "scale" in PARTS else previous.get("rows", [])
    for meters in SIZES if "scale" in PARTS else []:
        ours = sdnlab_run(meters)
        plain = plain_run(meters)
        row = {"meters": meters, "sdnlab": ours, "plain_mininet": plain}
        if ours.get("ready_s") and plain.get("ready_s") and plain.get("connected"):
            row["ready_speedup_vs_plain"] = round(plain["ready_s"] / ours["ready_s"], 2)
        if ours.get("down_s") and plain.get("down_s"):
            row["down_speedup_vs_plain"] = round(plain["down_s"] / ours["down_s"], 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    big = next((r for r in rows if r["meters"] == 1000), None)
    targets = {k: v for k, v in previous.get("targets", {}).items() if "scale" not in PARTS}
    if big and big["sdnlab"].get("ready_s") and "scale" in PARTS:
        targets["1000_meters_ready_le_30s"] = big["sdnlab"]["ready_s"] <= 30.0
        plain = big["plain_mininet"]
        targets["not_slower_than_plain_mininet"] = not plain.get("connected") or big["sdnlab"][
            "ready_s"
        ] <= plain.get("ready_s", float("inf"))
    result = {
        "benchmark": "bringup",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "kernel": platform.release(),
            "load_avg_at_start": os.getloadavg(),
        },
        "method": "smart_meter, builtin controller (sdnlab) vs plain Mininet + minimal os-ken app, same run; "
        "ready = until every switch is connected; down = full teardown",
        "rows": rows,
        "targets": targets,
    }
    if "scale" not in PARTS and previous.get("when"):
        result["rows_when"] = previous.get("rows_when", previous["when"])
    if "footprint" in PARTS:
        small = [footprint_run(*lab) for lab in FOOTPRINT_LABS]
        for row in small:
            print(json.dumps(row), flush=True)
        result["footprint"] = {
            "method": "sum of PSS over the lab's processes (supervisor, controller, shells), idle 3 s "
            "after ready; ovs-vswitchd is shared by all labs and not included",
            "target_mib_per_small_lab": FOOTPRINT_TARGET_MIB,
            "ovs_vswitchd_rss_mib": round(ovs_vswitchd_kib() / 1024, 1),
            "labs": small,
        }
        measured = [r["pss_mib"] for r in small if r.get("pss_mib") and r["topology"] == "linear"]
        targets["small_lab_le_60_mib"] = bool(measured) and max(measured) <= FOOTPRINT_TARGET_MIB
    elif previous.get("footprint"):
        result["footprint"] = previous["footprint"]
    if "sandbox" in PARTS:
        result["sandbox_isolation"] = sandbox_section()
    elif previous.get("sandbox_isolation"):
        result["sandbox_isolation"] = previous["sandbox_isolation"]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
