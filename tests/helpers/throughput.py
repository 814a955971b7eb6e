"""Throughput between two hosts of a running lab, measured with iperf3.

Shared by the live QoS and queue tests (``tests/integration/ryubook/test_qos.py`` and
``test_rest_qos.py``, ``tests/integration/runtime/test_queues.py``).
"""

from __future__ import annotations

import json
import subprocess
import time

from sdnlab.runtime import api

ATTEMPTS = 3  # fresh server and client runs before a measurement counts as failed
LISTEN_TRIES = 50  # client runs, 0.1 s apart, while the server is not listening yet


def iperf3_mbit(
    lab: str,
    port: int,
    *extra: str,
    seconds: int = 1,
    client: str = "h1",
    server: str = "h2",
    server_ip: str = "10.0.0.2",
) -> float:
    """Receiver-side Mbit/s of one iperf3 run ``client`` -> ``server`` (TCP, or UDP with ``-u -b``).

    iperf3 3.12 with ``-J`` exits 0 on errors; a run that failed to set up (a loaded machine)
    is tried again, up to ``ATTEMPTS`` times, with a fresh server."""
    argv = ["iperf3", "-c", server_ip, "-p", str(port), "-t", str(seconds), "-J", *extra]
    report: dict = {}
    for _attempt in range(ATTEMPTS):
        listener = api.popen_in(
            lab,
            server,
            ["iperf3", "-s", "-1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(LISTEN_TRIES):
                done = api.run_in(lab, client, argv)
                if "Connection refused" not in done.stdout:
                    break
                time.sleep(0.1)  # the server was not listening yet
        finally:
            listener.kill()
            listener.wait()
        report = json.loads(done.stdout)
        summary = report["end"].get("sum_received") or report["end"].get("sum")
        if summary and "error" not in report:
            return float(summary["bits_per_second"]) / 1e6
    raise AssertionError(f"iperf3 to port {port} failed {ATTEMPTS} times: {report.get('error')}")
