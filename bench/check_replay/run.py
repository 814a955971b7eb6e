"""``python -m bench.check_replay.run``: the classroom's Check on lab 2, by replay against live, one run.

A real ``sdnlab serve`` (root agent, own-OVS sandbox), one trainee with lab 2 (l2_learning)
started. For the starter app and then the reference (saved and deployed), ``BENCH_CHECK_ROUNDS``
rounds (default 5), each one of:

* ``http_replay``: the trainee's Check as the browser sends it (``POST /api/session/check``:
  HTTP, database, the agent, replay in the sandbox), timed at the client;
* ``agent_replay``: the same grading asked of the agent directly (``grade(..., replay=True)``);
  the agent keeps a warm spare runner (``sdnlab.controller.warm``), as it does for trainees;
* ``agent_live``: the public checks graded live on the running lab through the agent
  (``grade(..., include_hidden=False)``: what Check did before, and what an exam's check does);
* ``cold_replay``: the same replay in this process with no spare (``labs.replay_check.grade_replay``:
  a runner started cold per check, what ``sdnlab lab check`` does in a fresh CLI process).

The four alternate within each round so that all see the same load on the host. Reported per
app: median, min and max seconds, the verdicts of each (they must agree), and the ratios of the
medians to live (``replay_over_live``, ``http_replay_over_live``, ``cold_replay_over_live``;
below 1 is faster than live). ``before`` holds the same figures of the previous replay (a runner
started per check, steps that ended after a quiet period), measured by this benchmark at commit
``ded5509`` (2026-12-05 06:15 UTC) on the same machine: its ratios are from its own run, so the
two runs compare by ratio to live, which takes the host's load out. Writes
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


# The previous replay (runner started per check, quiet-period steps), from this benchmark's run at
# commit ded5509 (bench/results/check_replay.json then): medians in seconds, rounds 5, load ~14.
BEFORE = {
    "measured_at": "2026-12-05T06:15:11Z",
    "commit": "ded5509",
    "load_average_before": [13.33, 14.96, 13.91],
    "starter": {"http_replay_median_s": 2.999, "agent_replay_median_s": 3.218, "agent_live_median_s": 0.725},
    "reference": {
        "http_replay_median_s": 2.741,
        "agent_replay_median_s": 3.239,
        "agent_live_median_s": 0.957,
    },
}


def _before(app: str) -> dict:
    row = dict(BEFORE[app])
    live = row["agent_live_median_s"]
    row["replay_over_live"] = round(row["agent_replay_median_s"] / live, 2)
    row["http_replay_over_live"] = round(row["http_replay_median_s"] / live, 2)
    return {"measured_at": BEFORE["measured_at"], "commit": BEFORE["commit"], **row}


def _cold_replay(app_text: str) -> dict:
    """The replay as a fresh CLI process does it (no spare), as a report dict."""
    import tempfile

    from sdnlab.grader.replay import grade
    from sdnlab.labs.loader import load_lab
    from sdnlab.labs.replay_check import grade_replay

    assert grade._SPARES is None  # this process keeps no spare: every runner starts cold
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "l2_switch.py").write_text(app_text)
        return grade_replay(load_lab(LAB), Path(tmp)).to_dict()


def measure(client, agent, sandbox: str, app_text: str) -> dict:
    """``ROUNDS`` rounds of the four gradings; their times, modes and verdicts."""
    kinds = ("http_replay", "agent_replay", "agent_live", "cold_replay")
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    seen: dict[str, set] = {key: set() for key in times}
    for _ in range(ROUNDS):
        for key in times:
            began = time.perf_counter()
            if key == "http_replay":
                answer = client.post("/api/session/check")
                answer.raise_for_status()
                report = answer.json()
            elif key == "cold_replay":
                report = _cold_replay(app_text)
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
    replay, http, live, cold = (
        rows[k]["median_s"] for k in ("agent_replay", "http_replay", "agent_live", "cold_replay")
    )
    return {
        **rows,
        "verdicts_agree": len({json.dumps(r["verdicts"], sort_keys=True) for r in rows.values()}) == 1
        and all(len(r["verdicts"]) == 1 for r in rows.values()),
        "replay_over_live": round(replay / live, 2),
        "http_replay_over_live": round(http / live, 2),
        "cold_replay_over_live": round(cold / live, 2),
    }


def measure_both(client, agent, sandbox: str) -> dict:
    """The starter (as started), then the reference saved and deployed; each with ``before``."""
    from sdnlab.labs.loader import load_lab

    starter = (load_lab(LAB).starter_dir / "l2_switch.py").read_text()
    apps = {"starter": measure(client, agent, sandbox, starter)}
    print("starter:", json.dumps(apps["starter"]), flush=True)
    reference = (load_lab(LAB).solution_dir / "l2_switch.py").read_text()
    client.put("/api/session/files/l2_switch.py", json={"content": reference}).raise_for_status()
    deployed = client.post("/api/session/deploy")
    if deployed.status_code != 200:
        raise RuntimeError(f"deploy of the reference failed: {deployed.status_code} {deployed.text[:500]}")
    apps["reference"] = measure(client, agent, sandbox, reference)
    for name, row in apps.items():
        row["before"] = _before(name)
        ratio_before = row["before"]["replay_over_live"]
        row["speedup_vs_before"] = round(ratio_before / row["replay_over_live"], 1)
    return apps


def measure_host() -> dict:
    """Lab 2 run on this host (no classroom): check by replay warm and cold against live, per app.

    The library calls the classroom's agent makes (``labs.session.check_lab`` for the Check,
    ``labs.grading.grade_live`` for live), without a sandbox: a run of its own that other test
    sessions' clean-ups do not take for a dead lab.
    """
    import tempfile

    from sdnlab.grader.replay import grade
    from sdnlab.labs import grading
    from sdnlab.labs import session as lab_sessions
    from sdnlab.labs.loader import load_lab
    from sdnlab.runtime import api

    lab = load_lab(LAB)
    name = "crh" + secrets.token_hex(2)
    texts = {
        "starter": (lab.starter_dir / "l2_switch.py").read_text(),
        "reference": (lab.solution_dir / "l2_switch.py").read_text(),
    }
    apps: dict = {}
    home = os.environ.get("SDNLAB_HOME")
    with tempfile.TemporaryDirectory(prefix="sdnlab-bench-check-") as tmp:
        os.environ["SDNLAB_HOME"] = str(Path(tmp) / "home")  # the session record and progress: ours
        workdir = Path(tmp) / "work"
        lab_sessions.start(lab, name=name, workdir=workdir, fresh=True)
        try:
            for app, text in texts.items():
                (workdir / "l2_switch.py").write_text(text)
                lab_sessions.reset(name)
                times: dict[str, list[float]] = {"replay_warm": [], "replay_cold": [], "live": []}
                seen: dict[str, set] = {key: set() for key in times}
                grade.keep_warm_spare()
                spares = grade._SPARES
                for _ in range(ROUNDS):
                    for key in times:
                        grade._SPARES = spares if key == "replay_warm" else None
                        began = time.perf_counter()
                        if key == "live":
                            with api.exclusive(name):
                                result = grading.grade_live(lab, name, include_hidden=False)
                        else:
                            result = lab_sessions.check_lab(lab, name, workdir)
                        times[key].append(time.perf_counter() - began)
                        report = result.to_dict()
                        verdicts = json.dumps(_verdicts(report), sort_keys=True)
                        seen[key].add((report["mode"], report["percent"], verdicts))
                grade._SPARES = spares
                rows = {
                    key: {
                        **_summary(seconds),
                        "outcomes": [
                            {"mode": m, "percent": p, "verdicts": json.loads(v)} for m, p, v in seen[key]
                        ],
                    }
                    for key, seconds in times.items()
                }
                live = rows["live"]["median_s"]
                apps[app] = {
                    **rows,
                    "verdicts_agree": len({v for outcomes in seen.values() for _, _, v in outcomes}) == 1,
                    "replay_warm_over_live": round(rows["replay_warm"]["median_s"] / live, 2),
                    "replay_cold_over_live": round(rows["replay_cold"]["median_s"] / live, 2),
                    "before": _before(app),
                }
                apps[app]["speedup_vs_before"] = round(
                    apps[app]["before"]["replay_over_live"] / apps[app]["replay_warm_over_live"], 1
                )
        finally:
            lab_sessions.stop(name)
            if grade._SPARES is not None:
                grade._SPARES.close()
                grade._SPARES = None
            if home is None:
                os.environ.pop("SDNLAB_HOME", None)
            else:
                os.environ["SDNLAB_HOME"] = home
    return apps


def main() -> int:
    if os.geteuid() != 0:
        print("bench check_replay: needs root (sdnlab serve with its agent); skipped")
        return 0
    import httpx

    from bench.classroom.run import Server
    from sdnlab.classroom.sandbox import AgentBackend

    load_before = [round(x, 2) for x in os.getloadavg()]  # other test runs share the host's 2 cores
    host = measure_host()
    for name, row in host.items():
        print(
            f"host {name}: replay warm {row['replay_warm']['median_s']} s, "
            f"cold {row['replay_cold']['median_s']} s, "
            f"live {row['live']['median_s']} s; warm/live {row['replay_warm_over_live']} "
            f"(before: {row['before']['replay_over_live']}); verdicts agree: {row['verdicts_agree']}",
            flush=True,
        )
    apps: dict = {}
    classroom_error = ""
    ready_s = 0.0
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
            try:
                apps = measure_both(client, agent, started.json()["sandbox"])
            finally:  # also after a failure: a sandbox left running stays until stopped
                client.post("/api/session/stop")
    except Exception as exc:  # the sandbox's lab killed under us (see the results' note), or no agent
        classroom_error = f"{type(exc).__name__}: {exc}"
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
        "host": host,
        "apps": apps,
        "classroom_error": classroom_error,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for name, row in apps.items():
        print(
            f"{name}: check by replay {row['http_replay']['median_s']} s (HTTP), "
            f"{row['agent_replay']['median_s']} s (agent), {row['cold_replay']['median_s']} s (cold); "
            f"live {row['agent_live']['median_s']} s; replay/live {row['replay_over_live']} "
            f"(before: {row['before']['replay_over_live']}); verdicts agree: {row['verdicts_agree']}"
        )
    if classroom_error:
        print(f"classroom part not measured: {classroom_error}")
    rows = [*host.values(), *apps.values()]
    return 0 if all(row["verdicts_agree"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
