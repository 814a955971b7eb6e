"""Lab results: probe verdicts are pure, and what a trainee sees never holds hidden details."""

from __future__ import annotations

from sdnlab.labs.model import LabProbe
from sdnlab.labs.probes import judge_probe
from sdnlab.labs.results import CheckItem, LabResult, render_text
from sdnlab.labs.session import Session, result_record


def _probe(kind="ping", expect="reach", weight=2.0, hidden=False):
    return LabProbe("p", kind, "a probe", {"expect": expect}, weight, hidden)


def test_reach_probe_scores_the_fraction_of_pairs_that_answered():
    item = judge_probe(_probe(), [("h1", "h2", True), ("h1", "h3", False)])
    assert (item.cases, item.passed_cases, item.score) == (2, 1, 1.0)
    assert item.details == ("h1 -> h3: no echo reply",)


def test_blocked_probe_passes_when_nothing_answers():
    item = judge_probe(_probe(expect="blocked"), [("m1", "m2", False), ("m1", "m4", True)])
    assert item.passed_cases == 1 and item.details == ("m1 -> m4: answered but must be blocked",)


def test_quarantine_probe_names_the_host():
    item = judge_probe(_probe(kind="quarantined"), [("cam2", "", False)])
    assert not item.passed and item.details == ("cam2: not quarantined",)


def _result():
    items = (
        CheckItem("public", "behaviour", "seen", 2, 2, False, 1, 1),
        CheckItem("secret", "behaviour", "hidden detail", 1, 0, True, 4, 0, ("h9 leaked via s3",)),
    )
    return LabResult("lab", items, "static", grader_version="g1")


def test_public_view_hides_hidden_checks_but_counts_them():
    data = _result().public_dict()
    assert [c["id"] for c in data["checks"]] == ["public"]
    assert data["hidden_checks"] == {"total": 1, "passed": 0}
    assert "h9 leaked" not in str(data) and "secret" not in str(data)
    assert data["percent"] == 66.7


def test_visible_result_and_text_rendering():
    result = _result()
    assert [i.id for i in result.visible().items] == ["public"]
    text = render_text(result)
    assert "[FAIL] secret (hidden)" in text and "Score: 2/3 = 66.7%" in text


def test_result_record_has_time_hints_and_grader_version():
    from sdnlab.labs import load_lab

    session = Session("lab", "smart_meters", "/tmp/w", started_at=1000.0, hints_used=2)
    record = result_record(load_lab("smart_meters"), _result(), session, now=1600.0)
    assert record["duration_s"] == 600.0 and record["hints_used"] == 2 and record["grader_version"] == "g1"
    assert record["submitted_at"].startswith("1970-01-01T00:26:40")
    assert record["checks_passed"] == 1 and record["checks_total"] == 2


def test_failover_loss_is_the_longest_missing_stretch():
    from sdnlab.labs.probes import max_gap_ms

    assert max_gap_ms([0, 1, 2, 3], 4) == 0
    assert max_gap_ms([0, 1, 9, 10, 11], 12) == 7.0  # 2..8 lost
    assert max_gap_ms([3, 4, 5], 100) == 94.0  # the feed never came back after 5
    assert max_gap_ms([], 100) == float("inf")
    assert max_gap_ms([5, 1, 1, 2, 3, 4, 0], 6) == 0, "order and duplicates do not matter"
