"""``python -m bench.check_replay.run``: the classroom's Check on lab 2, by replay against live, one run.

A real ``sdnlab serve`` (root agent, own-OVS sandbox), one trainee with lab 2 (l2_learning)
started. For the starter app and then the reference (saved and deployed), ``BENCH_CHECK_ROUNDS``
rounds (default 5), each one of:

* ``http_replay``: the trainee's Check as the browser sends it (``POST /api/session/check``:
  HTTP, database, the agent, replay in the sandbox), timed at the client;
* ``agent_replay``: the same grading asked of the agent directly (``grade(..., replay=True)``);
* ``agent_live``: the public checks graded live on the running lab through the agent
  (``grade(..., include_hidden=False)``: what Check did before, and what an exam's check does).

The three alternate within each round so that both see the same load on the host. Reported per
app: median, min and max seconds, the verdicts of each (they must agree), and the ratio of the
medians live / replay (agent level: the same path but for the grading) and live / HTTP replay
(what a trainee waits for now, against the grading alone before). Writes
bench/results/check_replay.json.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import statistics
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results" / "check_replay.json"
LAB = "l2_learning"
ROUNDS = int(os.environ.get("BENCH_CHECK_ROUNDS", "5"))


def _summary(seconds: list[float]) -> dict:
    return {
        "median_s": round(statistics.median(seconds), 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
        "runs_s": [round(s, 3) for s in seconds],
    }


def _verdicts(report: dict) -> dict[str, bool]:
    return {c["id"]: bool(c["passed"]) for c in report["checks"] if not c.get("hidden")}


def measure(client, agent, sandbox: str) -> dict:
    """``ROUNDS`` rounds of the three gradings; their times, modes and verdicts."""
    times: dict[str, list[float]] = {"http_replay": [], "agent_replay": [], "agent_live": []}
    seen: dict[str, set] = {key: set() for key in times}
    for _ in range(ROUNDS):
        for key in times:
            began = time.perf_counter()
            if key == "http_replay":
                answer = client.post("/api/session/check")
                answer.raise_for_status()
                report = answer.json()
            else:
                report = agent.grade(sandbox, include_hidden=False, replay=key == "agent_replay")
            times[key].append(time.perf_counter() - began)
            seen[key].add((report["mode"], report["percent"], json.dumps(_verdicts(report), sort_keys=True)))
    rows = {}
    for key, seconds in times.items():
        outcomes = sorted(seen[key])
        rows[key] = {
            **_summary(seconds),
            "mode": [o[0] for o in outcomes],
            "percent": [o[1] for o in outcomes],
            "verdicts": [json.loads(o[2]) for o in outcomes],
        }
    replay, http, live = (rows[k]["median_s"] for k in ("agent_replay", "http_replay", "agent_live"))
    return {
        **rows,
        "verdicts_agree": len({json.dumps(r["verdicts"], sort_keys=True) for r in rows.values()}) == 1
        and all(len(r["verdicts"]) == 1 for r in rows.values()),
        "live_over_replay": round(live / replay, 2),
        "live_over_http_replay": round(live / http, 2),
    }


def main() -> int:
    if os.geteuid() != 0:
        print("bench check_replay: needs root (sdnlab serve with its agent); skipped")
        return 0
    import httpx

    from bench.classroom.run import Server
    from sdnlab.classroom.sandbox import AgentBackend
    from sdnlab.labs.loader import load_lab

    load_before = [round(x, 2) for x in os.getloadavg()]  # other test runs share the host's 2 cores
    server = Server(1, "crb" + secrets.token_hex(2))
    try:
        agent = AgentBackend(str(server.state / "agent.sock"), timeout=600)
        with httpx.Client(base_url=server.url, timeout=600) as client:
            login = client.post("/api/login", json={"username": "t0", "password": "password-t0"})
            login.raise_for_status()
            client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
            began = time.perf_counter()
            started = client.post(f"/api/labs/{LAB}/start")
            started.raise_for_status()
            ready_s = time.perf_counter() - began
            sandbox = started.json()["sandbox"]
            apps = {"starter": measure(client, agent, sandbox)}
            reference = (load_lab(LAB).solution_dir / "l2_switch.py").read_text()
            client.put("/api/session/files/l2_switch.py", json={"content": reference}).raise_for_status()
            client.post("/api/session/deploy").raise_for_status()
            apps["reference"] = measure(client, agent, sandbox)
            client.post("/api/session/stop")
    finally:
        server.stop()
    result = {
        "bench": "check_replay",
        "lab": LAB,
        "rounds": ROUNDS,
        "isolation": server.isolation,
        "lab_ready_s": round(ready_s, 2),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "load_average_before": list(load_before),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "apps": apps,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for name, row in apps.items():
        print(
            f"{name}: check by replay {row['http_replay']['median_s']} s (HTTP), "
            f"{row['agent_replay']['median_s']} s (agent); live {row['agent_live']['median_s']} s; "
            f"live/replay {row['live_over_replay']}x; verdicts agree: {row['verdicts_agree']}"
        )
    return 0 if all(row["verdicts_agree"] for row in apps.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
