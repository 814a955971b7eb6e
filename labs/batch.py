"""Grading a class: one submission folder per trainee (a workspace), all checks, CSV and JSON out.

``DIR/<trainee>/`` holds what the trainee's workspace holds (``flows/``, the app, configs).
Labs that need no network are graded statically; others on one real lab, redeployed per
trainee. A submission that cannot be graded gets an ``error`` and 0%; a machine that cannot
grade (no free lab slot, no Open vSwitch, the batch's lab name taken) is not a grade: the batch
stops with ``EnvironmentProblem`` and nothing is written.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

from sdnlab.errors import EnvironmentProblem, SdnlabError
from sdnlab.labs import grading, live
from sdnlab.labs.errors import LabSessionError
from sdnlab.labs.model import Lab

CSV_FIELDS = (
    "trainee",
    "lab",
    "percent",
    "score",
    "max_score",
    "passed",
    "checks_passed",
    "checks_total",
    "mode",
    "error",
)
BATCH_NAME = "lab-batch"


def submissions(directory: Path) -> list[Path]:
    """The trainee folders of a class directory (hidden folders skipped), sorted by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise LabSessionError(f"{directory}: not a directory of submissions (one folder per trainee)")
    return sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))


def row(trainee: str, lab: Lab, result=None, error: str = "") -> dict:
    if result is None:
        return {
            "trainee": trainee,
            "lab": lab.id,
            "percent": 0.0,
            "score": 0.0,
            "max_score": 0.0,
            "passed": False,
            "checks_passed": 0,
            "checks_total": 0,
            "mode": "",
            "error": error,
            "checks": [],
        }
    data = result.to_dict()
    return {
        "trainee": trainee,
        "lab": lab.id,
        "percent": result.percent,
        "score": result.score,
        "max_score": result.max_score,
        "passed": result.passed,
        "checks_passed": sum(i.passed for i in result.items),
        "checks_total": len(result.items),
        "mode": result.mode,
        "error": "",
        "checks": data["checks"],
    }


MODES = ("auto", "static", "live")


def grade_batch(
    lab: Lab,
    directory: Path,
    live_name: str = BATCH_NAME,
    mode: str = "auto",
    progress: Callable[[str, int, int], None] | None = None,
) -> list[dict]:
    """One row per trainee folder.

    ``auto``: statically when the lab needs no network, else live; ``static``: flow files only
    (labs with controller none; probes and scenario are not run); ``live``: always a network.
    ``progress(trainee, done, total)`` is called before each trainee is graded.
    """
    if mode not in MODES:
        raise LabSessionError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    if not lab.hidden_available:  # a class graded without its hidden checks would get wrong grades
        from sdnlab.instructor import InstructorDataMissing, where_to_set

        raise InstructorDataMissing(
            f"grade-batch: the hidden checks of lab {lab.id!r} are not available on this machine: "
            f"{where_to_set()}; nothing was graded"
        )
    if mode == "static" and (lab.controller.mode != "none" or lab.vnfs):
        raise LabSessionError(
            f"lab {lab.id} needs a live network (controller {lab.controller.mode}); use --mode live"
        )
    folders = submissions(directory)
    rows = []
    if mode == "static" or (mode == "auto" and not lab.needs_live):
        topology = live.load_topology(lab)
        for n, folder in enumerate(folders):
            if progress:
                progress(folder.name, n, len(folders))
            try:
                rows.append(row(folder.name, lab, grading.grade_static(lab, folder, topology=topology)))
            except SdnlabError as exc:
                rows.append(row(folder.name, lab, error=str(exc)))
        return rows
    from sdnlab.labs.session import redeploy
    from sdnlab.runtime import api, paths

    if paths.is_running(live_name):  # a directory a killed lab left is cleared by ``up``
        raise EnvironmentProblem(
            f"lab {live_name!r} is already running (another batch or session?): stop it or give "
            "grade-batch another --name; nothing was graded"
        )
    started = False
    try:
        for number, folder in enumerate(folders, 1):
            if progress:
                progress(folder.name, number - 1, len(folders))
            try:
                with api.exclusive(live_name):
                    if not started:
                        live.up(lab, folder, live_name)
                        started = True
                    else:
                        redeploy(lab, folder, live_name)
                    result = grading.grade_live(lab, live_name, include_hidden=True, workdir=folder)
                rows.append(row(folder.name, lab, result))
            except EnvironmentProblem as exc:
                raise EnvironmentProblem(
                    f"grading stopped at {folder.name} ({number} of {len(folders)}): {exc}; "
                    "nothing was written"
                ) from None
            except SdnlabError as exc:
                rows.append(row(folder.name, lab, error=str(exc)))
                started = started and paths.is_running(live_name)
    finally:
        if live_name in paths.lab_names():
            api.down(live_name)
    return rows


def write_outputs(rows: list[dict], prefix: Path) -> tuple[Path, Path]:
    """``<prefix>.csv`` (one line per trainee) and ``<prefix>.json`` (with every check)."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = prefix.with_suffix(".csv"), prefix.with_suffix(".json")
    with open(csv_path, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    json_path.write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    return csv_path, json_path
