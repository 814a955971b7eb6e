"""``make demo`` / ``sdnlab demo``: run the default lab end to end with its reference solution.

Brings the lab up from its starter, grades it (the starter is meant to fail), deploys the
reference solution, grades again with the hidden checks, prints the grade and stops the lab.
Returns 0 when the reference scores 100%.
"""

from __future__ import annotations

import time

from rich.console import Console

from sdnlab import render
from sdnlab.labs import grading, live
from sdnlab.labs.loader import load_lab
from sdnlab.labs.session import redeploy

DEFAULT_LAB = "smart_meters"
DEMO_NAME = "lab-demo"


def run(lab: str | None, console: Console) -> int:
    """Start ``lab`` (default: smart meters), grade starter and solution, stop; 0 on a 100% solution."""
    from sdnlab.errors import LabError
    from sdnlab.runtime import api

    record = load_lab(lab or DEFAULT_LAB)
    console.print(f"[bold]sdnlab demo[/]: lab {record.number} [cyan]{record.id}[/] - {record.title.en}")
    started = time.monotonic()
    status = live.up(record, record.starter_dir, DEMO_NAME)
    console.print(
        f"network up in {time.monotonic() - started:.1f} s: {len(status['switches'])} switches, "
        f"{len(status['hosts'])} hosts, controller {record.controller.mode}"
    )
    try:
        starter = grading.grade_live(record, DEMO_NAME, include_hidden=True)
        console.print(
            f"starter (what a trainee begins with): [yellow]{starter.percent:g}%[/] "
            f"({sum(i.passed for i in starter.items)}/{len(starter.items)} checks pass)"
        )
        redeploy(record, record.solution_dir, DEMO_NAME)
        console.print("reference solution deployed")
        solution = grading.grade_live(record, DEMO_NAME, include_hidden=True)
        render.lab_result(console, solution, f"{record.id}: reference solution")
    finally:
        try:
            api.down(DEMO_NAME)
        except LabError:
            pass
    console.print(f"demo finished in {time.monotonic() - started:.1f} s")
    for line in next_steps(record):
        console.print(line, highlight=False)
    return 0 if solution.percent >= 100.0 else 1


def next_steps(lab) -> list[str]:
    """What a newcomer does after the demo: browse the catalogue, then try this lab themselves."""
    return [
        (
            "next: `sdnlab lab list` shows every lab; "
            f"`sdnlab lab start {lab.number}` starts this one from its starter for you to solve,"
        ),
        "      then `sdnlab lab task` (the exercise), `sdnlab lab check` (feedback) and `sdnlab lab submit`.",
    ]
