"""Many-labs benchmark: small labs started at once, in growing steps, until the first failure.

Each step starts N labs (``linear`` with 2 switches and the builtin controller, the size of a
beginner's lab) from N threads at the same moment, records how many became ready, the ready
times (median and max), the memory each lab costs (PSS of its processes, idle, see
``sdnlab.runtime.footprint``) and how much the machine's available memory dropped per lab (that
includes Open vSwitch's share), then takes them all down. Steps: ``BENCH_MANY_STEPS``
(default 4,8,16,24,32,40: the last is past a 2-core machine's limit of 32); the run stops at the
first step where a lab fails. Writes bench/results/many_labs.json. Target: 16 labs at once.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sdnlab.runtime import api
from sdnlab.runtime.capacity import machine_limit, meminfo
from sdnlab.runtime.footprint import lab_memory

RESULTS = Path(__file__).resolve().parents[1] / "results" / "many_labs.json"
STEPS = [int(x) for x in os.environ.get("BENCH_MANY_STEPS", "4,8,16,24,32,40").split(",")]
TOPOLOGY, PARAMS, CONTROLLER = "linear", {"switches": 2}, "builtin"


def _start(name: str) -> dict:
    started = time.monotonic()
    try:
        api.up(TOPOLOGY, PARAMS, name=name, controller=CONTROLLER)
    except Exception as exc:
        return {"name": name, "ok": False, "error": str(exc).splitlines()[0]}
    return {"name": name, "ok": True, "ready_s": round(time.monotonic() - started, 2)}


def step(count: int) -> dict:
    """Start ``count`` labs at once, measure, take them down."""
    names = [f"bench-many-{i}" for i in range(count)]
    available_before = meminfo().get("MemAvailable", 0)
    load_before = os.getloadavg()[0]
    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(_start, names))
    up = [r for r in results if r["ok"]]
    time.sleep(3.0)  # idle: controllers settled
    memory = [lab_memory(r["name"]) for r in up]
    available_after = meminfo().get("MemAvailable", 0)
    for r in up:
        try:
            api.down(r["name"])
        except Exception as exc:  # keep going: the others must come down too
            print(f"down {r['name']}: {exc}", file=sys.stderr)
    ready = [r["ready_s"] for r in up]
    return {
        "labs": count,
        "ready": len(up),
        "failed": [r for r in results if not r["ok"]],
        "ready_s_median": round(statistics.median(ready), 2) if ready else None,
        "ready_s_max": max(ready, default=None),
        "pss_mib_per_lab": round(statistics.mean(m["pss_mib"] for m in memory), 1) if memory else None,
        "available_mib_drop_per_lab": round((available_before - available_after) / 1024 / max(len(up), 1), 1),
        "load_avg_before": round(load_before, 2),
    }


def main() -> int:
    limit = machine_limit()
    rows = []
    for count in STEPS:
        row = step(count)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if row["failed"]:
            break
    most = max((r["labs"] for r in rows if not r["failed"]), default=0)
    result = {
        "benchmark": "many_labs",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_mib": meminfo().get("MemTotal", 0) // 1024,
            "kernel": platform.release(),
            "lab_limit": {"labs": limit.labs, "reason": limit.reason},
        },
        "method": f"{TOPOLOGY} {PARAMS} with the {CONTROLLER} controller; N labs started at once from N "
        "threads; steps grow until a lab fails; memory = PSS of each idle lab's processes; other users' "
        "labs on the machine count towards the limit",
        "rows": rows,
        "most_labs_at_once": most,
        "first_failure": next((r["failed"][0] for r in rows if r["failed"]), None),
        "targets": {"16_labs_at_once": most >= 16},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    print(f"wrote {RESULTS}")
    return 0 if most >= 16 else 1


if __name__ == "__main__":
    sys.exit(main())
