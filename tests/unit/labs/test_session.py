"""Trainee sessions without a network: the reference-solution mark, hints, workspaces, printed commands.

The network side (``redeploy``, ``grade_live``, ``live.up``) is replaced by recorders here: these
tests are about what the session records and says, the live behaviour is in tests/integration.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sdnlab.cli import root
from sdnlab.labs import grading, load_lab, session
from sdnlab.labs.errors import LabSessionError, NoMoreHints
from sdnlab.labs.progress import ProgressStore, lab_progress, skill_report
from sdnlab.labs.results import CheckItem, LabResult

runner = CliRunner()


def full_marks(lab, name, include_hidden=True, **kwargs):
    item = CheckItem("all", "behaviour", "everything", 1.0, 1.0, False, 1, 1)
    return LabResult(lab.id, (item,), "live", 0.1, "test")


@pytest.fixture
def running(monkeypatch, tmp_path):
    """A saved session of lab 3 whose network calls are recorded, not made."""
    deployed = []
    monkeypatch.setattr(
        session, "redeploy", lambda lab, source, name: deployed.append((lab.id, str(source), name))
    )
    monkeypatch.setattr(grading, "grade_live", full_marks)
    session._save(session.Session("lab-t1", "smart_meters", str(tmp_path / "work"), 0.0))
    return deployed


def test_solve_deploys_the_reference_and_marks_the_session(running):
    marked = session.apply_solution("lab-t1")
    assert running == [("smart_meters", str(load_lab("3").solution_dir), "lab-t1")]
    assert marked.reference_deployed and session.current("lab-t1").reference_deployed


def test_a_submit_after_solve_is_recorded_as_solved_by_reference_not_as_a_score(running):
    session.apply_solution("lab-t1")
    result, record = session.submit("lab-t1")
    assert result.percent == 100.0 and record["solved_by_reference"] is True
    data = ProgressStore().load()
    progress = lab_progress(data)["smart_meters"]
    assert (progress.attempts, progress.best_percent, progress.done, progress.reference_runs) == (
        0,
        0.0,
        False,
        1,
    )
    assert skill_report(data, [load_lab("3")])["security"]["percent"] == 0.0


def test_a_submit_without_solve_counts(running):
    _, record = session.submit("lab-t1")
    assert record["solved_by_reference"] is False
    assert lab_progress(ProgressStore().load())["smart_meters"].best_percent == 100.0


def test_solve_command_says_it_is_an_instructor_command_and_what_it_does_to_submits(running):
    result = runner.invoke(root, ["lab", "solve", "--name", "lab-t1"])
    assert result.exit_code == 0, result.output
    assert "instructor" in result.output and "solved by the reference" in result.output
    assert "sdnlab lab stop --name lab-t1" in result.output
    submit = runner.invoke(root, ["lab", "submit", "--name", "lab-t1"])
    assert "solved by the reference" in submit.output and "not counted" in submit.output
    listing = json.loads(runner.invoke(root, ["lab", "list", "--json"]).output)
    assert next(r for r in listing if r["id"] == "smart_meters")["best_percent"] is None
    report = " ".join(runner.invoke(root, ["progress"]).output.split())
    assert "1 submission(s) made after `sdnlab lab solve` (solved by the reference) are not counted" in report


def test_hints_stop_at_the_last_one(running):
    total = len(load_lab("3").hints)
    seen = [session.hint("lab-t1")[0] for _ in range(total)]
    assert seen == list(range(1, total + 1))
    with pytest.raises(NoMoreHints, match=f"no more hints: you have seen all {total}"):
        session.hint("lab-t1")
    result = runner.invoke(root, ["lab", "hint", "--name", "lab-t1"])
    assert result.exit_code == 0 and result.output.startswith("no more hints")
    assert ProgressStore().load()["labs"]["smart_meters"]["hints_used"] == total


def test_commands_for_a_named_session_carry_the_name():
    assert session.command("check", "qa6") == "sdnlab lab check --name qa6"
    assert session.command("check", session.DEFAULT_NAME) == "sdnlab lab check"


def test_a_missing_named_session_says_how_to_start_it():
    with pytest.raises(LabSessionError, match="start one with `sdnlab lab start ID --name lab-t9`"):
        session.check("lab-t9")


def test_start_prints_next_steps_with_the_session_name(monkeypatch, tmp_path):
    status = {"switches": [{"name": "dc1", "bridge": "l1dc1"}]}
    monkeypatch.setattr(session.live, "up", lambda lab, workdir, name: status)
    result = runner.invoke(root, ["lab", "start", "3", "--name", "lab-t2", "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    assert "`sdnlab lab task --name lab-t2`, then `sdnlab lab check --name lab-t2`" in result.output
    assert "dc1=l1dc1" in result.output


def test_a_second_start_names_the_session_to_stop(monkeypatch, tmp_path):
    from sdnlab.runtime import paths

    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path / "run"))
    session._save(session.Session("lab-t3", "smart_meters", str(tmp_path / "w"), 0.0))
    paths.lab_dir("lab-t3").mkdir(parents=True)
    with pytest.raises(LabSessionError, match="`sdnlab lab stop --name lab-t3` first"):
        session.start(load_lab("3"), "lab-t3", tmp_path / "w2")


@pytest.mark.parametrize("workdir", ["a-file", "/proc/lab-t-qa"])
def test_a_workdir_that_cannot_be_a_workspace_is_refused_in_one_line(workdir, tmp_path, monkeypatch):
    monkeypatch.setattr(session.live, "up", lambda *args: pytest.fail("the network must not start"))
    (tmp_path / "a-file").write_text("not a folder")
    target = tmp_path / workdir if workdir == "a-file" else workdir
    with pytest.raises(LabSessionError, match=r"not a folder|cannot create the workspace"):
        session.start(load_lab("1"), "lab-t4", target)
    assert not session._path("lab-t4").exists()
