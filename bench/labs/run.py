"""Benchmark: how fast a trainee gets feedback, per lab.

For every lab of the catalogue, on a real network: time to start the lab from its starter,
time of ``check`` (public checks, live) on the starter, time to deploy the reference, time of
``submit``-grading (hidden checks included) on it, time to stop. Baseline, in the same run:
static grading of the same workspace's flow files (labs whose solution is flow files), i.e.
what the grader alone costs without probes or scenarios; the JSON reports live/static ratios.
Writes bench/results/labs.json.

    .venv/bin/python -m bench.labs.run [--labs 1,3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from sdnlab.labs import catalogue, grading, live
from sdnlab.labs.session import redeploy

RESULTS = Path(__file__).resolve().parents[1] / "results" / "labs.json"
NAME = "lab-tbench"


def _timed(fn, *args, **kwargs):
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, round(time.perf_counter() - started, 3)


def static_times(lab, runs: int = 5) -> dict | None:
    if lab.controller.mode != "none":
        return None
    topology = live.load_topology(lab)
    times = []
    for _ in range(runs):
        _, elapsed = _timed(grading.grade_static, lab, lab.solution_dir, True, topology)
        times.append(elapsed)
    return {"grade_solution_s": statistics.median(times), "runs": runs}


def live_times(lab) -> dict:
    from sdnlab.runtime import api

    _, up_s = _timed(live.up, lab, lab.starter_dir, NAME)
    try:
        starter, check_s = _timed(grading.grade_live, lab, NAME, False)
        _, deploy_s = _timed(redeploy, lab, lab.solution_dir, NAME)
        solution, submit_s = _timed(grading.grade_live, lab, NAME, True)
    finally:
        _, down_s = _timed(api.down, NAME)
    return {
        "up_s": up_s,
        "check_starter_s": check_s,
        "deploy_solution_s": deploy_s,
        "submit_solution_s": submit_s,
        "down_s": down_s,
        "starter_public_percent": starter.percent,
        "solution_percent": solution.percent,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", default="", help="comma-separated lab ids or numbers (default: all)")
    args = parser.parse_args(argv)
    wanted = set(filter(None, args.labs.split(",")))
    rows = []
    for lab in catalogue():
        if wanted and lab.id not in wanted and str(lab.number) not in wanted:
            continue
        row = {"lab": lab.id, "number": lab.number, "controller": lab.controller.mode}
        row["static"] = static_times(lab)
        row["live"] = live_times(lab)
        if row["static"]:
            row["submit_live_over_static"] = round(
                row["live"]["submit_solution_s"] / max(row["static"]["grade_solution_s"], 1e-6), 1
            )
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {
        "median_check_s": statistics.median(r["live"]["check_starter_s"] for r in rows) if rows else None,
        "max_check_s": max((r["live"]["check_starter_s"] for r in rows), default=None),
        "median_up_s": statistics.median(r["live"]["up_s"] for r in rows) if rows else None,
        "all_solutions_100": all(r["live"]["solution_percent"] == 100.0 for r in rows),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "labs": rows,
                "summary": summary,
                "baseline": "static grading of the solution's flow files (grader only)",
            },
            indent=1,
        )
    )
    print(json.dumps(summary))
    return 0 if summary["all_solutions_100"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
