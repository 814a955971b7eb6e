"""A replay step ends when the app is done, by the runner's answer, not after a quiet period.

The simulated switches send a sync echo that the runner answers only once every app has handled
everything queued before it (``sdnlab.grader.replay.sync``). So a handler that is slow is waited
for (the old 0.5 s answer timeout counted it as unanswered), a handler that never returns is
reported and the replay still ends, and checking the same app again gives the same verdicts and
the same findings, message for message.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sdnlab.grader.replay.grade import load_lab, run_scenario

REPO = Path(__file__).resolve().parents[3]
LAB = REPO / "labs" / "l2_learning"
SOLUTION = REPO / "instructor" / "labs" / "l2_learning" / "solution" / "l2_switch.py"  # instructor data
HANDLER_START = "        msg = ev.msg\n"


def variant(tmp_path: Path, first_line: str) -> str:
    """The reference app with ``first_line`` run first in its packet-in handler."""
    text = SOLUTION.read_text()
    assert text.count(HANDLER_START) == 1
    app = tmp_path / "l2_switch.py"
    app.write_text("import time\n" + text.replace(HANDLER_START, f"        {first_line}\n" + HANDLER_START))
    return str(app)


def failed(result) -> dict:
    return {c.id: c for c in result.checks if not c.passed}


def test_a_slow_handler_is_waited_for_and_its_answer_counts(tmp_path):
    app = variant(tmp_path, "time.sleep(0.8)  # longer than any quiet period or answer timeout")
    steps = [{"ping": {"src": "h1", "dst": "h4"}}, {"ping": {"src": "h1", "dst": "h4"}}]
    result = run_scenario(app, load_lab(LAB), "slow", steps, 6883)
    assert result.passed, failed(result)


def test_a_handler_that_never_returns_is_reported_and_the_replay_still_ends(tmp_path):
    app = variant(tmp_path, "time.sleep(3600)")
    began = time.monotonic()
    result = run_scenario(app, load_lab(LAB), "stuck", [{"ping": {"src": "h1", "dst": "h2"}}], 6884)
    assert time.monotonic() - began < 30
    problems = failed(result)
    assert "packet-ins-answered" in problems and "pings-delivered" in problems
    assert "did not return" in problems["no-handler-errors"].detail


def _check(lab, workdir: Path) -> tuple:
    """What a trainee sees of one check, times apart: items, findings and the notes after the first."""
    from sdnlab.labs.replay_check import grade_replay

    result = grade_replay(lab, workdir)
    items = tuple((i.id, i.passed, i.score, i.details) for i in result.items)
    assert result.checked_by is not None
    findings = tuple((f.check, f.detail, f.messages) for f in result.checked_by.findings)
    return items, findings, result.notes[1:]


@pytest.mark.parametrize("which", ["starter", "reference"])
def test_checking_the_same_app_again_gives_identical_verdicts_and_findings(tmp_path, which):
    from sdnlab.grader.replay import grade
    from sdnlab.labs.loader import load_lab as load_catalogue_lab

    lab = load_catalogue_lab("l2_learning")
    source = SOLUTION if which == "reference" else LAB / "starter" / "l2_switch.py"
    (tmp_path / "l2_switch.py").write_text(source.read_text())
    cold = [_check(lab, tmp_path) for _ in range(2)]
    grade.keep_warm_spare()  # as the classroom agent does: the same answers from the spare runner
    try:
        warm = [_check(lab, tmp_path) for _ in range(2)]
    finally:
        grade._SPARES.close()
        grade._SPARES = None
    assert cold[0] == cold[1] == warm[0] == warm[1]
    items, findings, _ = cold[0]
    if which == "reference":
        assert all(passed for _, passed, _, _ in items) and not findings
    else:
        assert {f[0] for f in findings} >= {"flows-before-second-packet", "no-flood-after-learning"}
