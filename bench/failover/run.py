"""Failover benchmark: how much of lab 8's feed a fibre cut loses, and how much the answer is charged.

The reference (fast-failover groups) is cut ``BENCH_FAILOVER_CUTS`` times (default 12) per
load: ``quiet`` (nothing added) and ``busy`` (another lab built and torn down in a loop, which
stalls ovs-vswitchd, plus two CPU burners: the CI machine while other labs run). Each cut
records the loss at rx3 around the cut (what the scored scenario charged before the witness),
when st1 sent the feed on again after the cut and when the witness bridge (cut at the same
instant) did, and what the answer is charged (``sdnlab.labs.failover``); ``unjudged`` counts
cuts after which even the witness never resumed (the switch process stalled for the whole
stream: they judge nothing). Writes bench/results/failover.json.
Claim: the charge of the reference stays under the 50 ms full-credit bound under load, where
the loss itself does not.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sdnlab.labs import live, load_lab
from sdnlab.labs.failover import measure_cut, witness_bridge
from sdnlab.runtime import api

RESULTS = Path(__file__).resolve().parents[1] / "results" / "failover.json"
CUTS = int(os.environ.get("BENCH_FAILOVER_CUTS", "12"))
NAME, CHURN = "bench-failover", "bench-fo-churn"


def _busy(stop: threading.Event) -> None:
    """Build and tear down a small lab until ``stop``."""
    while not stop.is_set():
        try:
            api.up("linear", {"switches": 4}, name=CHURN, controller="builtin")
        except Exception:
            pass
        finally:
            try:
                api.down(CHURN)
            except Exception:
                pass


def _summary(values: list[float]) -> dict:
    finite = sorted(v for v in values if not math.isinf(v))
    return {
        "values": [None if math.isinf(v) else v for v in values],
        "median": statistics.median(finite) if finite else None,
        "max": max(finite) if finite else None,
        "over_50": sum(1 for v in values if v > 50),
    }


def _cuts(topology) -> dict:
    rows = []
    with witness_bridge(NAME) as witness:
        for _ in range(CUTS):
            cut = measure_cut(NAME, topology, "playout", "rx3", ("st1", "st2"), 5004, witness)
            rows.append(cut)
    judged = [c for c in rows if c.judged]
    return {
        "rx3_loss_ms": _summary([c.delivered_loss_ms for c in rows]),
        "st1_resumed_ms": _summary([c.loss_ms for c in rows]),
        "witness_resumed_ms": _summary(
            [c.witness_ms if c.witness_ms is not None else math.inf for c in rows]
        ),
        "charged_ms": _summary([c.charged_ms for c in judged]),
        "unjudged": len(rows) - len(judged),
    }


def main() -> int:
    lab = load_lab("broadcast_failover")
    work = Path(tempfile.mkdtemp()) / "ref"
    shutil.copytree(lab.solution_dir, work)
    topology = live.load_topology(lab)
    result = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "cuts": CUTS}
    live.up(lab, work, NAME)
    try:
        result["quiet"] = _cuts(topology)
        stop = threading.Event()
        churn = threading.Thread(target=_busy, args=(stop,), daemon=True)
        burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
        churn.start()
        try:
            time.sleep(3)
            result["busy"] = _cuts(topology)
            result["busy"]["load_average"] = os.getloadavg()[0]
        finally:
            stop.set()
            for burner in burners:
                burner.kill()
                burner.wait()
            churn.join(timeout=300)  # its lab is taken down before the measured lab
    finally:
        api.down(NAME)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("quiet", "busy")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
