"""``python -m bench.vnf.run``: every VNF measurement in one run, written to bench/results/vnf.json.

Offline (from memory, one core): packets/s per VNF at 64 and 1500 bytes. Live (root needed):
UDP packets/s and TCP through each VNF on bare veths, TCP through OVS with no VNF / each VNF /
a 3-VNF chain, and the firewall against nftables with the same rule set. Targets from the
issue: firewall >= 100 kpps per core on the hot path; chain TCP >= 50% of the no-VNF path.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "results" / "vnf.json"


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmarks and write the JSON results."""
    from bench.vnf import offline

    seconds = float(os.environ.get("SDNLAB_BENCH_SECONDS", "4"))
    started = time.time()
    report: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "kernel": platform.release()},
                    "offline_pps_per_core": offline.run()}
    fw64 = report["offline_pps_per_core"]["64B"]["firewall"]
    targets = {"firewall_offline_kpps_per_core": round(fw64 / 1000, 1), "firewall_target_kpps": 100,
               "firewall_target_met_offline": fw64 >= 100_000}
    if os.geteuid() == 0:
        from bench.vnf import live
        with tempfile.TemporaryDirectory(prefix="vnbench") as tmp:
            tmp_path = Path(tmp)
            for key, measure in (("live_raw_pps", live.raw_pps), ("live_veth_iperf", live.live_pps), ("tcp_through_ovs", live.chain_throughput),
                                 ("firewall_vs_nftables", live.firewall_vs_nftables)):
                try:
                    report[key] = measure(tmp_path, seconds)
                except Exception as exc:  # noqa: BLE001 - record the failure, keep the other results
                    report[key] = {"error": f"{type(exc).__name__}: {exc}"}
        fw_rows = report["live_raw_pps"].get("firewall", {}), report["live_raw_pps"].get("firewall_ring", {})
        fw_live = max((row.get("64B", {}).get("pps_per_core") or 0) for row in fw_rows)
        if fw_live:
            targets["firewall_live_kpps_per_core"] = round(fw_live / 1000, 1)
            targets["firewall_target_met_live"] = fw_live >= 100_000
        modes = {m: report["tcp_through_ovs"].get(f"mode_{m}", {}).get("chain_fw_dpi_lb", {}).get("ratio_to_no_vnf")
                 for m in ("recv", "ring", "offload")}
        targets["chain_tcp_ratio_by_mode"] = modes
        # the target is for VNFs that inspect every packet; offload is reported beside it
        ratio = max((r for m, r in modes.items() if r is not None and m != "offload"), default=None)
        targets["chain_tcp_ratio"] = ratio
        targets["chain_target_ratio"] = 0.5
        targets["chain_target_met"] = bool(ratio and ratio >= 0.5)
    else:
        report["live"] = "skipped: needs root"
    report["targets"] = targets
    report["duration_s"] = round(time.time() - started, 1)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    json.dump(report["targets"], sys.stdout, indent=1)
    print()
    return report


if __name__ == "__main__":
    main()
