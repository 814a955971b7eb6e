"""Labs 11 (stplib's timers: a ``settle`` step) and 13 (hosts routing through gateways)
are checked by replay: the reference solutions get full marks, the starters do not.

The real runner runs each app against simulated switches; the ``settle`` step lets real time
pass while the switches carry stplib's BPDUs until they are quiet, so lab 11's two apps replay
side by side.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sdnlab.labs.loader import load_lab
from sdnlab.labs.replay_check import grade_replay, replay_reason

REPO = Path(__file__).resolve().parents[3]


def check(lab_id: str) -> dict[str, object]:
    """``lab check``'s replay of the reference solution and of the starter."""
    lab = load_lab(lab_id)
    assert replay_reason(lab) is None
    folders = {
        "reference": REPO / "instructor" / "labs" / lab_id / "solution",
        "starter": REPO / "labs" / lab_id / "starter",
    }
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(grade_replay, lab, folder) for name, folder in folders.items()}
        return {name: future.result() for name, future in futures.items()}


def test_lab_11s_spanning_tree_forms_while_it_settles_and_the_reference_passes():
    results = check("ryubook_spanning_tree")
    reference, starter = results["reference"], results["starter"]
    assert reference.mode == "replay" and reference.percent == 100, [i.details for i in reference.items]
    assert reference.checked_by.seconds >= 20  # quiet for 10 s before and after the pings: real time
    assert not any("no-packet-in-storm" in note for note in reference.notes)  # BPDUs are no storm
    # stplib's bridge removal when the switches disconnect at the end is not the scenario's
    assert not any("your app raised" in note for note in reference.notes), reference.notes
    assert starter.percent == 0, starter.notes  # the starter never floods: nothing reaches anything


def test_lab_13s_hosts_reach_other_subnets_through_their_gateways():
    results = check("ryubook_router")
    reference, starter = results["reference"], results["starter"]
    assert reference.mode == "replay" and reference.percent == 100, [i.details for i in reference.items]
    assert starter.percent == 0, starter.notes  # nothing is routed: packets go to the controller


def test_an_error_first_raised_when_the_switches_leave_at_the_end_is_not_reported(tmp_path):
    import json

    from sdnlab.grader.replay.grade import _read_errors

    log = tmp_path / "errors.jsonl"
    during = {"kind": "exception", "handler": "packet_in", "exc_type": "KeyError", "file": "a.py", "line": 3}
    teardown = {**during, "handler": "dispacher_change", "line": 270}
    records = [{**during, "time": 10.0, "count": 1}, {**teardown, "time": 20.0, "count": 1}]
    records.append({**during, "time": 21.0, "count": 5})  # the final count, written at the end
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert [(e["handler"], e["count"]) for e in _read_errors(log, before=15.0)] == [("packet_in", 5)]
    assert len(_read_errors(log)) == 2


def test_sdnlab_of_replays_default_scenarios_start_with_the_labs_leading_waits():
    from sdnlab.grader.replay.grade import load_lab as load_replay

    scenarios = load_replay(REPO / "labs" / "ryubook_spanning_tree").scenarios
    settle = {"settle": {"stable_s": 10, "timeout_s": 90}}
    assert scenarios["learning"] == [settle, "pingall", "pingall"]
    assert load_replay(REPO / "labs" / "l2_learning").scenarios["learning"] == ["pingall", "pingall"]
