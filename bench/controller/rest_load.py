"""REST under load: 50 clients send 2,000 ``GET /stats/flow/1`` to the built-in controller.

Each request opens its own connection (as urllib clients such as the grader's collector do).
The same run measures the old server (``--wsapi-server wsgiref``: one thread per connection,
backlog 5) and the new one (cheroot with a worker pool and backlog 128), in alternating rounds,
against a real controller process and a fake switch (``sdnlab.controller.fakeswitch``), and
reports p50/p99/max latency, errors (non-200 answers, resets, timeouts), the kernel's listen
queue overflows and the before/after ratios. Results: bench/results/rest_load.json.

Run: ``python -m bench.controller.rest_load`` (or ``BENCH=rest_load python -m bench.run``).
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import statistics
import threading
import time
from pathlib import Path

from sdnlab.controller.fakeswitch import FakeSwitchesThread
from sdnlab.controller.process import ControllerProcess

RESULTS = Path(__file__).resolve().parent.parent / "results" / "rest_load.json"
OF_PORT, REST_PORT = 6881, 8181
CLIENTS = int(os.environ.get("BENCH_REST_CLIENTS", "50"))
REQUESTS = int(os.environ.get("BENCH_REST_REQUESTS", "2000"))
ROUNDS = int(os.environ.get("BENCH_REST_ROUNDS", "2"))
SERVERS = ("wsgiref", "cheroot")


def listen_overflows() -> int:
    """The kernel's TcpExt ListenOverflows counter (0 if unreadable)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return 0
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(table.get("ListenOverflows", 0))
    return 0


def one_request(path: str) -> tuple[float, str | None]:
    """(seconds, error or None) of one GET on a fresh connection."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", REST_PORT, timeout=30)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        reply = conn.getresponse()
        body = reply.read()
        error = None if reply.status == 200 and b'"1"' in body else f"HTTP {reply.status}"
    except (OSError, http.client.HTTPException) as exc:
        error = type(exc).__name__
    finally:
        conn.close()
    return time.perf_counter() - started, error


def load(clients: int, requests: int) -> dict:
    """``requests`` GETs spread over ``clients`` threads; latency figures and errors."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    per_client = requests // clients

    def client() -> None:
        for _ in range(per_client):
            seconds, error = one_request("/stats/flow/1")
            with lock:
                latencies.append(seconds)
                if error:
                    errors[error] = errors.get(error, 0) + 1

    overflows = listen_overflows()
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "p50_ms": round(cuts[49] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
        "requests_per_s": round(len(latencies) / wall, 1),
        "listen_overflows": listen_overflows() - overflows,
    }


def one_round(server: str) -> dict:
    """Start a controller with ``server``, connect a fake switch, measure."""
    with ControllerProcess(
        ["sdnlab.controller.apps.builtin"], OF_PORT, REST_PORT, extra_args=("--wsapi-server", server)
    ):
        switches = FakeSwitchesThread([1]).start("127.0.0.1", OF_PORT)
        try:
            deadline = time.monotonic() + 10
            while one_request("/stats/flow/1")[1] and time.monotonic() < deadline:
                time.sleep(0.1)
            load(10, 100)  # warm-up
            return load(CLIENTS, REQUESTS)
        finally:
            switches.stop()


def main() -> int:
    rounds: dict[str, list[dict]] = {server: [] for server in SERVERS}
    for _ in range(ROUNDS):
        for server in SERVERS:
            result = one_round(server)
            print(f"  {server}: {json.dumps(result)}", flush=True)
            rounds[server].append(result)
    summary = {
        server: {
            "p50_ms": statistics.median(r["p50_ms"] for r in results),
            "p99_ms": statistics.median(r["p99_ms"] for r in results),
            "max_ms": max(r["max_ms"] for r in results),
            "errors": sum(r["errors"] for r in results),
            "requests": sum(r["requests"] for r in results),
            "requests_per_s": round(statistics.median(r["requests_per_s"] for r in results), 1),
            "listen_overflows": sum(r["listen_overflows"] for r in results),
        }
        for server, results in rounds.items()
    }
    before, after = summary["wsgiref"], summary["cheroot"]
    report = {
        "benchmark": "rest_load",
        "what": f"{CLIENTS} clients, {REQUESTS} GET /stats/flow/1 per round (a connection per request), "
        "built-in controller with a fake switch; wsgiref = before, cheroot = after",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rounds": rounds,
        "summary": summary,
        "ratios": {
            "p99_before_over_after": round(before["p99_ms"] / max(after["p99_ms"], 0.001), 2),
            "p50_before_over_after": round(before["p50_ms"] / max(after["p50_ms"], 0.001), 2),
            "throughput_after_over_before": round(
                after["requests_per_s"] / max(before["requests_per_s"], 0.1), 2
            ),
        },
        "targets": {"errors_after": 0, "p99_ms_after_below": 200},
        "met": after["errors"] == 0 and after["p99_ms"] < 200,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["summary"], indent=2))
    print(json.dumps(report["ratios"]))
    return 0 if report["met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
