"""Bring-up benchmark: `sdnlab up`/`down` against a plain Mininet script on the same graph.

For smart_meter at 50, 200 and 1000 meters: time until every switch is connected to its
controller, and time to tear down, for (a) the sdnlab runtime with its builtin controller and
(b) plain Mininet (stock OVSSwitch on the userspace datapath, a minimal os-ken controller),
one after the other in the same run. Writes bench/results/bringup.json with ratios.
Targets: 1000 meters ready in <= 30 s, and no slower than plain Mininet.
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

RESULTS = Path(__file__).resolve().parents[1] / "results" / "bringup.json"
SIZES = [int(x) for x in os.environ.get("BENCH_BRINGUP_METERS", "50,200,1000").split(",")]


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
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"error": f"plain Mininet script failed: {out.stderr.strip()[-300:]}"}
    return json.loads(lines[-1])


def main() -> int:
    rows = []
    for meters in SIZES:
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
    targets = {}
    if big and big["sdnlab"].get("ready_s"):
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
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1))
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
