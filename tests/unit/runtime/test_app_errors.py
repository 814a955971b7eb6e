"""Feedback names the trainee's own line when their app fails (issue 11 item 6), from the runner's records."""

from __future__ import annotations

import json

from sdnlab.runtime.app_errors import lab_app_errors, read_records, summarize

RAISED = {
    "time": 100.0,
    "kind": "exception",
    "app": "L2Switch",
    "handler": "packet_in",
    "exc_type": "AttributeError",
    "message": "'NoneType' object has no attribute 'port'",
    "file": "/home/t/work/l2_learning/l2_switch.py",
    "line": 58,
    "count": 1,
}


def test_an_exception_is_named_with_file_line_handler_and_count():
    records = [RAISED, dict(RAISED, time=101.0, count=12)]
    assert summarize(records) == [
        (
            "your app raised AttributeError at l2_switch.py:58 in packet_in (12 times): "
            "'NoneType' object has no attribute 'port'"
        )
    ]


def test_a_hang_says_the_controller_did_not_answer_packet_ins():
    hang = dict(
        RAISED, kind="hang", exc_type=None, message="handler did not return for 5 s", line=40, count=1
    )
    assert summarize([hang]) == [
        (
            "the controller did not answer packet-ins for 5 s: your app's packet_in was still running at "
            "l2_switch.py:40"
        )
    ]


def test_only_failures_seen_since_the_grading_started_are_reported():
    assert summarize([RAISED], since=150.0) == []


def test_a_missing_or_half_written_file_is_no_failure(tmp_path):
    assert lab_app_errors(tmp_path) == []
    (tmp_path / "app-errors.jsonl").write_text(json.dumps(RAISED) + '\n{"time": 1')
    assert len(read_records(tmp_path / "app-errors.jsonl")) == 1
