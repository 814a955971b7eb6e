"""Exams: validated files, a fake clock for the time limit, hidden checks kept hidden, attempts,
hints, reference runs."""

import json
import shutil
from pathlib import Path

import pytest

from sdnlab.certification import attempt, credential, keys
from sdnlab.certification.errors import ExamError
from sdnlab.certification.evidence import lab_check_skills
from sdnlab.certification.exam import catalogue, load_exam, parse_exam
from sdnlab.labs import workspace
from sdnlab.yamlsrc import load_yaml

T0 = 1_800_000_000.0
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def homes(tmp_path, monkeypatch):
    monkeypatch.setenv("SDNLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SDNLAB_CERT_KEYS", str(tmp_path / "keys"))


def test_the_catalogue_has_a_short_exam_and_a_long_one():
    exams = {e.id: e for e in catalogue()}
    assert len(exams) >= 2
    assert min(e.minutes for e in exams.values()) <= 20
    for exam in exams.values():
        assert exam.certifies and exam.tasks


@pytest.mark.parametrize("path", sorted((REPO / "exams").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_exam_validates_with_each_required_check_selected(path):
    exam = load_exam(path)
    for task in exam.tasks:
        known = lab_check_skills(task.lab_dir)
        selected = task.checks if task.checks is not None else tuple(known)
        for check in selected:
            assert set(known[check].requires) <= set(selected), (path.name, task.lab, check)


EXAM = """id: t_exam
title: {en: Test, ja: テスト}
minutes: 20
pass_percent: 70
attempts: 1
hints: {allowed: true, cost_percent: 10}
certifies: [openflow.match_action]
tasks:
  - lab: static_flows
    weight: 1
    checks: [h1-reaches-h3, h2-web-to-h3, h2-no-telnet-h3, h2-no-telnet-h1, h2-pings-everyone]
"""


@pytest.mark.parametrize(
    "change, message",
    [
        (("minutes: 20", "minutes: 0"), "t.yaml:3: minutes"),
        (("pass_percent: 70", "pass_percent: 170"), "t.yaml:4: pass_percent"),
        (("lab: static_flows", "lab: nolab"), "t.yaml:9: tasks[0].lab: no lab 'nolab'"),
        (
            ("h2-no-telnet-h1,", "h2-no-such,"),
            "t.yaml:11: tasks[0].checks[3]: lab static_flows has no check 'h2-no-such'",
        ),
        (
            ("[openflow.match_action]", "[openflow.match_action, nfv.service_chain]"),
            "t.yaml:7: certifies[1]: no task check evidences",
        ),
        (("[openflow.match_action]", "[x.y]"), "t.yaml:7: certifies[0]: unknown skill"),
        (("attempts: 1", "attempts: 1\ncolour: red"), "t.yaml:6: colour: unknown key"),
        (("weight: 1", "weight: -2"), "t.yaml:10: tasks[0].weight"),
        (
            ("h2-web-to-h3, ", ""),
            (
                "t.yaml:11: tasks[0].checks[1]: 'h2-no-telnet-h3' of lab static_flows requires "
                "'h2-web-to-h3' (it earns its points only together with it), which the task does not select"
            ),
        ),
    ],
)
def test_a_bad_exam_names_file_line_and_field(change, message):
    with pytest.raises(ExamError) as info:
        parse_exam(load_yaml(EXAM.replace(*change), "t.yaml"), "t.yaml")
    assert message in str(info.value)


def _exam(tmp_path, text=EXAM):
    path = tmp_path / "t_exam.yaml"
    path.write_text(text)
    return load_exam(path)


def _start(tmp_path, seed=1, text=EXAM, trainee="Ann", session="exam"):
    return attempt.start(_exam(tmp_path, text), trainee, T0, session, seed, "offline", watch=False)


def _solve_by_hand(running, source_seed_dir=None):
    """Copy a reference solution into the workspace as a trainee would (no reference mark)."""
    lab = running.task_lab(0) if source_seed_dir is None else source_seed_dir
    workspace.copy_tree(lab.solution_dir, running.workdir(0))


def test_status_counts_hidden_checks_but_never_shows_their_text(tmp_path):
    running = _start(tmp_path)
    info = attempt.status(running, T0 + 60)
    text = json.dumps(info)
    assert info["seconds_left"] == 19 * 60
    assert info["tasks"][0]["hidden_checks"] == 1
    assert "h2-no-telnet-h1" not in text and "to h1 either" not in text
    result = attempt.check(running, 1, T0 + 60)
    assert all(not i.hidden for i in result.items)
    assert {i.id for i in result.items} == {
        "h1-reaches-h3",
        "h2-web-to-h3",
        "h2-no-telnet-h3",
        "h2-pings-everyone",
    }


def test_the_exam_submits_itself_at_the_time_limit_with_the_state_then(tmp_path):
    running = _start(tmp_path)
    _solve_by_hand(running)
    later = attempt.status(running, T0 + 20 * 60 + 1)
    assert later["status"] == "submitted" and later["seconds_left"] == 0
    done = attempt.load(running.directory)
    assert done.data["auto_submitted"] and done.data["result"]["percent"] == 100.0
    assert done.data["result"]["passed"] and Path(done.data["certificate"]).is_file()
    with pytest.raises(ExamError, match="has ended"):
        attempt.check(done, 1, T0 + 20 * 60 + 2)
    with pytest.raises(ExamError, match="has ended"):
        attempt.hint(done, 1, T0 + 20 * 60 + 2)


def test_one_second_before_the_limit_the_exam_still_runs(tmp_path):
    running = _start(tmp_path)
    assert attempt.status(running, T0 + 20 * 60 - 1)["status"] == "running"


def test_the_certificate_verifies_with_the_evidence_and_states_the_variant(tmp_path):
    running = _start(tmp_path, seed=11)
    _solve_by_hand(running)
    done = attempt.submit(running, T0 + 300)
    facts = credential.verify(
        Path(done.data["certificate"]),
        keys.load_or_create().public_key(),
        Path(done.data["evidence"]["path"]),
    )
    assert facts.seed == 11 and facts.trainee == "Ann" and facts.score_percent == 100.0
    assert facts.skills == {"openflow.match_action": done.data["result"]["skills"]["openflow.match_action"]}
    assert not facts.reference_run


def test_a_copied_answer_from_another_seed_fails(tmp_path):
    first = _start(tmp_path, seed=0, trainee="Ann", session="s1")
    second = _start(tmp_path, seed=2, trainee="Bob", session="s2")
    assert first.data["tasks"][0]["values"] != second.data["tasks"][0]["values"]
    _solve_by_hand(first)
    shutil.rmtree(second.workdir(0))
    shutil.copytree(first.workdir(0), second.workdir(0))  # Bob copies Ann's files
    copied = attempt.submit(second, T0 + 300)
    own = attempt.submit(first, T0 + 300)
    assert own.data["result"]["percent"] == 100.0
    assert copied.data["result"]["percent"] < 70.0
    assert not copied.data["result"]["passed"] and "certificate" not in copied.data


def test_hints_cost_points_and_can_be_forbidden(tmp_path):
    running = _start(tmp_path)
    _solve_by_hand(running)
    attempt.hint(running, 1, T0 + 10)
    attempt.hint(running, 1, T0 + 20)
    done = attempt.submit(running, T0 + 30)
    assert done.data["result"]["raw_percent"] == 100.0 and done.data["result"]["percent"] == 80.0
    strict = _start(
        tmp_path,
        text=EXAM.replace("id: t_exam", "id: t_exam").replace("allowed: true", "allowed: false"),
        trainee="Cy",
    )
    with pytest.raises(ExamError, match="allows no hints"):
        attempt.hint(strict, 1, T0 + 10)


def test_attempts_are_limited_and_reference_runs_do_not_count(tmp_path):
    reference = _start(tmp_path, trainee="Ann")
    attempt.solve(reference, T0 + 5)
    solved = attempt.submit(reference, T0 + 10)
    assert solved.data["reference_run"] and solved.data["result"]["percent"] == 100.0
    cert = json.loads(Path(solved.data["certificate"]).read_text())
    assert cert["credentialSubject"]["sdnlab"]["reference_run"] is True
    assert attempt.exam_outcomes() == []  # a reference run is never skill evidence
    mine = _start(tmp_path, trainee="Ann")
    attempt.submit(mine, T0 + 20)
    assert attempt.exam_outcomes()
    with pytest.raises(ExamError, match="used all 1 attempt"):
        _start(tmp_path, trainee="Ann")


def test_a_live_only_lab_cannot_run_offline(tmp_path):
    text = (
        EXAM.replace("lab: static_flows", "lab: l2_learning")
        .replace(
            "checks: [h1-reaches-h3, h2-web-to-h3, h2-no-telnet-h3, h2-no-telnet-h1, h2-pings-everyone]",
            "checks: [flows-h1-h4]",
        )
        .replace("[openflow.match_action]", "[programming.controller_app]")
    )
    with pytest.raises(ExamError, match="needs a live network"):
        _start(tmp_path, text=text)


def test_submit_after_submit_changes_nothing(tmp_path):
    running = _start(tmp_path)
    first = attempt.submit(running, T0 + 10)
    again = attempt.submit(running, T0 + 20)
    assert again.data["submitted_at"] == first.data["submitted_at"]
