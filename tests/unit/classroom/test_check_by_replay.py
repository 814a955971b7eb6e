"""The trainee's Check grades as ``sdnlab lab check`` does; submit and exams stay live.

Which grading a sandbox runs for each request (the library's ``check_lab`` for Check, live for
submit and for an exam's check), what the agent accepts, and how a report's ``checked_by``
reaches the trainee (in English and Japanese, the replay's message sequence one message a line,
hidden checks only as counts). On the workspace backend (no network, no root) Check on lab 2
really replays the trainee's app, through the HTTP API. The network case runs in
tests/integration/classroom/test_check_by_replay.py.
"""

from __future__ import annotations

import json

import pytest

from sdnlab.classroom.agent import parse_request
from sdnlab.classroom.errors import ClassroomError
from sdnlab.classroom.runner import LocalRunner
from sdnlab.classroom.views import message_lines, public_report
from sdnlab.labs import grading
from sdnlab.labs import session as lab_sessions
from sdnlab.labs.results import CheckedBy, CheckItem, LabResult, ReplayFinding

ITEM = CheckItem("ping-all", "probe", "ping all", 2.0, 2.0, False, 12, 12)
HIDDEN = CheckItem("flows-all-pairs", "behaviour", "secret", 3.0, 0.0, True, 12, 0, ("h1 -> h2: secret",))
MESSAGE = (
    "dpid 2: PACKET_IN in_port=2 reason=no_match table=0: a -> b ICMP type 8 => PACKET_OUT in_port=2 "
    "actions=output:FLOOD: a -> b ICMP type 8 [l2_switch.py:57]; PACKET_OUT in_port=2 actions=output:1: "
    "a -> b ICMP type 8 [l2_switch.py:61]"
)


@pytest.fixture
def runner(tmp_path, monkeypatch):
    """A network sandbox record for lab 2, whose gradings are recorded instead of run."""
    backend = LocalRunner(tmp_path / "state", network=True)
    workdir = tmp_path / "state" / "work" / "rc1"
    workdir.mkdir(parents=True)
    record = {"sandbox": "rc1", "lab": "l2_learning", "workdir": str(workdir), "started_at": 0.0}
    (tmp_path / "state" / "sandboxes" / "rc1.json").write_text(json.dumps(record))
    calls: list[tuple] = []

    def check_lab(lab, name, workdir, network=True):
        calls.append(("check_lab", lab.id, name, str(workdir), network))
        return LabResult(
            lab.id, (ITEM,), "replay", 0.1, "t", ("graded by replay: ...",), CheckedBy(True, notes=1)
        )

    def grade_live(lab, name, include_hidden=True):
        calls.append(("grade_live", lab.id, name, include_hidden))
        return LabResult(lab.id, (ITEM,), "live", 0.1, "t")

    monkeypatch.setattr(lab_sessions, "check_lab", check_lab)
    monkeypatch.setattr(grading, "grade_live", grade_live)
    return backend, calls, str(workdir)


def test_the_trainees_check_grades_as_lab_check_and_submit_and_exam_checks_stay_live(runner):
    backend, calls, workdir = runner
    checked = backend.grade("rc1", include_hidden=False, replay=True)  # the Check button
    assert calls.pop() == ("check_lab", "l2_learning", "rc1", workdir, True)
    assert checked["mode"] == "replay" and checked["checked_by"]["replay"] is True

    backend.grade("rc1", include_hidden=True)  # submit: every check, live
    assert calls.pop() == ("grade_live", "l2_learning", "rc1", True)
    backend.grade("rc1", include_hidden=False)  # an exam task's check (the proctor asks no replay)
    assert calls.pop() == ("grade_live", "l2_learning", "rc1", False)


def test_replay_grades_public_checks_only(runner):
    backend, calls, _ = runner
    with pytest.raises(ClassroomError, match="replay grades the public checks only"):
        backend.grade("rc1", include_hidden=True, replay=True)
    with pytest.raises(ClassroomError, match="replay grades the public checks only"):
        backend.grade("rc1", include_hidden=False, scenarios=[{"id": "x"}], replay=True)
    assert calls == []


def test_the_agent_takes_replay_as_an_optional_flag_of_a_public_grade():
    grade = {"op": "grade", "sandbox": "rc1", "include_hidden": False}
    assert parse_request(json.dumps(grade).encode())[1]["replay"] is False
    assert parse_request(json.dumps({**grade, "replay": True}).encode())[1]["replay"] is True
    with pytest.raises(ClassroomError, match="'replay' must be true or false"):
        parse_request(json.dumps({**grade, "replay": "yes"}).encode())
    with pytest.raises(ClassroomError, match="public checks only"):
        parse_request(json.dumps({**grade, "include_hidden": True, "replay": True}).encode())


def replayed() -> dict:
    finding = ReplayFinding(
        "flows-before-second-packet", "a repeated ping reached the controller: ...", (MESSAGE,)
    )
    notes = (
        "graded by replay: l2_switch.py ran ...",
        "replay: flows-before-second-packet: ...",
        f"  {MESSAGE}",
    )
    checked = CheckedBy(True, app="l2_switch.py", seconds=0.86, findings=(finding,), notes=len(notes))
    later = "your app raised KeyError at l2_switch.py:60 in packet_in: 'x'"
    return LabResult("l2_learning", (ITEM, HIDDEN), "replay", 1.2, "t", (*notes, later), checked).to_dict()


def test_the_trainee_reads_how_check_graded_instead_of_the_command_lines_notes():
    report = public_report(replayed(), "en")
    by = report["checked_by"]
    assert by["replay"] and by["text"].startswith("Checked by replay: your app l2_switch.py ran against")
    assert "0.86 s" in by["text"] and "Submit grades your running lab live" in by["text"]
    [finding] = by["findings"]
    assert finding["title"].startswith("A repeated ping still reached the controller")
    assert finding["messages"] == [message_lines(MESSAGE)]
    assert report["notes"] == ["your app raised KeyError at l2_switch.py:60 in packet_in: 'x'"]
    assert [c["id"] for c in report["checks"]] == ["ping-all"]
    assert report["hidden_checks"] == {"total": 1, "passed": 0} and "secret" not in json.dumps(report)


def test_in_japanese_too():
    by = public_report(replayed(), "ja")["checked_by"]
    assert by["text"].startswith("リプレイで採点しました: アプリ l2_switch.py を模擬スイッチに対して 0.86 秒")
    assert by["findings"][0]["title"].startswith("2 回目の ping もコントローラーに届きました")
    live = CheckedBy(False, reason="its probe 'web' (tcp) is not simulated", notes=1)
    report = LabResult("x", (ITEM,), "live", 1.0, "t", ("graded live, not by replay: ...",), live).to_dict()
    assert public_report(report, "ja")["checked_by"]["text"] == (
        "リプレイではなく、稼働中のラボを実機で採点しました: "
        "プローブ 'web' (tcp) はリプレイで模擬していません"
    )
    assert public_report(report, "en")["checked_by"]["text"] == (
        "Checked live on your running lab, not by replay: its probe 'web' (tcp) is not simulated"
    )
    assert public_report(report, "en")["notes"] == []


def test_a_packet_in_and_each_reply_read_one_a_line():
    assert message_lines(MESSAGE).split("\n") == [
        "dpid 2: PACKET_IN in_port=2 reason=no_match table=0: a -> b ICMP type 8",
        "    => PACKET_OUT in_port=2 actions=output:FLOOD: a -> b ICMP type 8 [l2_switch.py:57]",
        "    => PACKET_OUT in_port=2 actions=output:1: a -> b ICMP type 8 [l2_switch.py:61]",
    ]
    assert message_lines("0.012 s dpid 1: PACKET_IN ...") == "0.012 s dpid 1: PACKET_IN ..."


def test_an_edited_but_not_deployed_app_is_pointed_out_with_the_classrooms_button():
    report = {**replayed(), "checked_by": {**replayed()["checked_by"], "app_changed": True}}
    assert "Press Save & deploy to run the new version" in public_report(report)["checked_by"]["text"]
    assert "「保存してデプロイ」を押してください" in public_report(report, "ja")["checked_by"]["text"]


def test_on_the_workspace_backend_check_replays_the_trainees_app_through_the_api(classroom):
    from sdnlab.labs.loader import load_lab

    ann = classroom.login("ann")
    assert ann.post("/api/labs/l2_learning/start").status_code == 200
    report = ann.post("/api/session/check").json()
    assert report["mode"] == "replay" and report["percent"] == 50.0
    assert {c["id"]: c["passed"] for c in report["checks"]} == {"flows-h1-h4": False, "ping-all": True}
    assert report["checked_by"]["text"].startswith("Checked by replay: your app l2_switch.py")
    assert "flows-before-second-packet" in {f["check"] for f in report["checked_by"]["findings"]}

    reference = (load_lab("l2_learning").solution_dir / "l2_switch.py").read_text()
    assert ann.put("/api/session/files/l2_switch.py", json={"content": reference}).status_code == 200
    report = ann.post("/api/session/check?lang=ja").json()
    assert report["percent"] == 100.0 and report["checked_by"]["text"].startswith("リプレイで採点しました")
    submitted = ann.post("/api/session/submit").json()  # submit does not replay: the files, statically
    assert submitted["mode"] == "static" and "checked_by" not in submitted


def test_on_the_workspace_backend_an_app_lab_replay_does_not_cover_is_graded_from_the_files(classroom):
    ann = classroom.login("ann")
    assert ann.post("/api/labs/ryubook_qos/start").status_code == 200
    report = ann.post("/api/session/check").json()
    assert report["mode"] == "static"
    assert report["checked_by"]["text"] == (
        "Checked from your workspace files (no network), not by replay: "
        "its probe 'limited-to-5-mbit' (rate) is not simulated"
    )
