"""Queue classifier benchmark: what the lab watcher's tc-filter mirroring of set_queue costs.

One lab (``linear``, 1 switch, 2 hosts, no controller). Measured on the lab's watcher process
(its own CPU time plus its reaped children's: ``ovs-ofctl`` and ``tc``), over ``BENCH_QUEUES_S``
seconds (default 20) each:

* idle, no QoS on any port: the classifier only holds its OVSDB monitor socket;
* idle, a linux-htb QoS on one port and ``BENCH_QUEUES_FLOWS`` (default 20) set_queue flows: the
  flow table is read 4 times a second;
* delay from ``ovs-ofctl add-flow`` (a new set_queue flow) to its filter in the kernel
  (``tc filter show`` polled every 10 ms), ``BENCH_QUEUES_ROUNDS`` times (default 20).

Writes bench/results/queues.json.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

from sdnlab.runtime import api, paths

RESULTS = Path(__file__).resolve().parents[1] / "results" / "queues.json"
LAB = "bench-queues"
SECONDS = float(os.environ.get("BENCH_QUEUES_S", "20"))
FLOWS = int(os.environ.get("BENCH_QUEUES_FLOWS", "20"))
ROUNDS = int(os.environ.get("BENCH_QUEUES_ROUNDS", "20"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of ``pid`` (its reaped children included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICK


def cpu_percent(pid: int, seconds: float) -> float:
    before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return round(100 * (cpu_seconds(pid) - before) / (time.monotonic() - started), 3)


def filters(device: str) -> int:
    shown = subprocess.run(["tc", "filter", "show", "dev", device], capture_output=True, text=True).stdout
    return shown.count("flowid")


def main() -> int:
    status = api.up("linear", {"switches": 1, "hosts_per_switch": 2}, name=LAB, controller="none")
    try:
        watcher = int(status["supervisor_pid"])
        bridge = api.bridge(LAB, "s1")
        port = f"{bridge}-eth2"
        time.sleep(1.0)
        idle = cpu_percent(watcher, SECONDS)
        subprocess.run(
            ["ovs-vsctl", "--", "set", "port", port, "qos=@q", "--", "--id=@q", "create", "qos",
             "type=linux-htb", "other-config:max-rate=20000000", "queues:0=@q0", "queues:1=@q1",
             "--", "--id=@q0", "create", "queue", "other-config:max-rate=20000000",
             "--", "--id=@q1", "create", "queue", "other-config:max-rate=1000000"],
            check=True, capture_output=True,
        )  # fmt: skip
        flows = ["priority=1,actions=NORMAL"] + [
            f"priority=10,udp,nw_dst=10.0.0.2,tp_dst={5000 + i},actions=set_queue:1,output:2"
            for i in range(FLOWS)
        ]
        subprocess.run(
            ["ovs-ofctl", "-O", "OpenFlow13", "add-flows", bridge, "-"],
            input="\n".join(flows),
            text=True,
            check=True,
        )
        deadline = time.monotonic() + 10
        while filters(port) < FLOWS and time.monotonic() < deadline:
            time.sleep(0.05)
        queued = cpu_percent(watcher, SECONDS)
        delays = []
        for i in range(ROUNDS):
            flow = f"priority=20,udp,tp_dst={6000 + i},actions=set_queue:1,output:2"
            have = filters(port)
            started = time.monotonic()
            subprocess.run(["ovs-ofctl", "-O", "OpenFlow13", "add-flow", bridge, flow], check=True)
            while filters(port) <= have and time.monotonic() - started < 5:
                time.sleep(0.01)
            delays.append(time.monotonic() - started)
        state = paths.read_json(paths.lab_dir(LAB) / "queues.json") or {}
    finally:
        api.down(LAB)
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "seconds_per_sample": SECONDS,
        "watcher_cpu_percent_idle_no_qos": idle,
        "watcher_cpu_percent_with_qos": queued,
        "queue_flows": FLOWS,
        "filters_in_place": len(state.get("filters", [])),
        "flow_mod_to_filter_s": {
            "p50": round(statistics.median(delays), 3),
            "max": round(max(delays), 3),
            "rounds": ROUNDS,
            "all": [round(d, 3) for d in delays],
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
