"""``python -m bench.replay.run``: replay grading of lab 2, results in bench/results/replay.json.

Lab 2 (l2_learning): the reference solution, the starter and a deliberately broken variant
(learns with source and destination swapped) are graded by replay over the lab's scenarios,
``BENCH_REPLAY_ROUNDS`` times (default 3); the result holds the time of each scenario (the
simulated network run, and the controller start-up apart) and each verdict. With a network
available (root, Open vSwitch) the same three apps are also graded live by ``lab grade-batch``'s
machinery, and the agreement of the verdicts is recorded (set BENCH_REPLAY_LIVE=0 to skip).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from sdnlab.grader.replay.grade import replay_app
from sdnlab.labs.loader import load_lab

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RESULTS = HERE.parent / "results" / "replay.json"
LAB = REPO / "labs" / "l2_learning"
ROUNDS = int(os.environ.get("BENCH_REPLAY_ROUNDS", "3"))
OF_PORT = 6890


def apps(folder: Path) -> dict[str, Path]:
    """reference, starter and broken variants of lab 2's app, each in its own folder."""
    solution = (load_lab("l2_learning").solution_dir / "l2_switch.py").read_text()  # instructor data
    texts = {
        "reference": solution,
        "starter": (LAB / "starter" / "l2_switch.py").read_text(),
        "broken-swapped-match": solution.replace(
            "eth_src=eth.src, eth_dst=eth.dst", "eth_src=eth.dst, eth_dst=eth.src"
        ),
    }
    paths = {}
    for name, text in texts.items():
        (folder / name).mkdir()
        path = folder / name / "l2_switch.py"
        path.write_text(text)
        paths[name] = path
    return paths


def replay_rows(paths: dict[str, Path]) -> list[dict]:
    rows = []
    for name, path in paths.items():
        verdicts, scenarios = set(), {}
        for _ in range(ROUNDS):
            report = replay_app(str(path), LAB, of_port=OF_PORT)
            verdicts.add(report.passed)
            for s in report.scenarios:
                entry = scenarios.setdefault(s.name, {"seconds": [], "startup_seconds": [], "passed": set()})
                entry["seconds"].append(s.seconds)
                entry["startup_seconds"].append(s.startup_seconds)
                entry["passed"].add(s.passed)
        rows.append(
            {
                "app": name,
                "replay_passed": verdicts.pop() if len(verdicts) == 1 else "unstable",
                "scenarios": {
                    k: {
                        "median_s": round(statistics.median(v["seconds"]), 4),
                        "max_s": round(max(v["seconds"]), 4),
                        "controller_startup_median_s": round(statistics.median(v["startup_seconds"]), 3),
                        "passed": sorted(v["passed"]),
                    }
                    for k, v in scenarios.items()
                },
            }
        )
    return rows


def live_verdicts(folder: Path) -> dict[str, dict] | str:
    """Live grading of every folder (lab grade-batch, live mode), or why it was skipped."""
    if os.environ.get("BENCH_REPLAY_LIVE", "1") == "0":
        return "skipped (BENCH_REPLAY_LIVE=0)"
    try:
        from sdnlab.labs import batch
        from sdnlab.labs.loader import load_lab

        started = time.perf_counter()
        rows = batch.grade_batch(load_lab(LAB), folder, live_name="bench-replay", mode="live")
    except Exception as exc:  # no network here, or the lab machinery failed: say so in the results
        return f"not run: {type(exc).__name__}: {exc}"
    elapsed = time.perf_counter() - started
    return {"seconds_total": round(elapsed, 1), "rows": {r.get("trainee"): r for r in rows}}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = apps(folder)
        rows = replay_rows(paths)
        live = live_verdicts(folder)
    if isinstance(live, dict):
        for row in rows:
            live_row = live["rows"].get(row["app"], {})
            row["live"] = {
                k: live_row.get(k)
                for k in ("score", "max_score", "percent", "passed", "error")
                if k in live_row
            }
            passed_live = live_row.get("passed")
            if passed_live is None and "percent" in live_row:
                passed_live = float(live_row["percent"]) >= 100.0
            row["agrees_with_live"] = None if passed_live is None else passed_live == row["replay_passed"]
    result = {
        "benchmark": "replay grading of lab 2 (l2_learning)",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "rounds": ROUNDS,
        "apps": rows,
        "live": live if not isinstance(live, dict) else {"seconds_total": live["seconds_total"]},
        "expected": {"reference": True, "starter": False, "broken-swapped-match": False},
        "verdicts_as_expected": all(
            r["replay_passed"] == {"reference": True}.get(r["app"], False) for r in rows
        ),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["verdicts_as_expected"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
