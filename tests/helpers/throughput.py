"""Throughput between two hosts of a running lab, measured with iperf3, and waiting for a server.

Shared by the live QoS and queue tests (``tests/integration/ryubook/test_qos.py`` and
``test_rest_qos.py``, ``tests/integration/runtime/test_queues.py``); ``wait_listening`` by every
live test that starts ``iperf3 -s`` itself (lab hosts and the controller tests' Mininet hosts).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable

from waiting import wait_for

from sdnlab.runtime import api

ATTEMPTS = 3  # fresh server and client runs before a measurement counts as failed
LISTEN_TRIES = 50  # client runs, 0.1 s apart, while the server is not listening yet
LISTEN_TIMEOUT_S = 30.0  # iperf3 -s binds at once on a quiet machine, seconds later on a loaded one


def wait_listening(run: Callable[[list[str]], str], port: int, timeout: float = LISTEN_TIMEOUT_S) -> None:
    """Return once a TCP socket listens on ``port`` in the namespace where ``run(argv)`` runs a
    command and returns its output (a lab host: ``api.run_in(...).stdout``; a Mininet host:
    ``host.cmd``). Asks ``ss``, so a one-off server (``iperf3 -s -1``) is not used up by the check.

    A server started a moment ago (``iperf3 -s -1 -D`` returns before it binds) may not listen
    yet, and a client started then fails at once with "Connection refused"."""
    wait_for(
        lambda: run(["ss", "-Hltn", f"sport = :{port}"]).strip(),
        timeout,
        f"listening on TCP port {port}",
        interval=0.1,
    )


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
