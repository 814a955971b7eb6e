"""Exams in the classroom on a real database and real workspaces: scheduling, the window, late starts,
attempts, one task at a time, hints, auto-submit with a fake clock, evidence, certificates, privacy."""

import csv
import io
import json
import time
import zipfile

import pytest

from sdnlab.certification import credential, keys
from sdnlab.certification.bundle import verify_bundle
from sdnlab.classroom import proctor
from sdnlab.classroom.db import ExamAttempt, LabSession, TerminalLine
from sdnlab.classroom.errors import Conflict

EXAM = "quick_openflow"


# ---------------------------------------------------------------- the policy, pure


def test_no_start_before_the_window_opens_or_from_the_moment_it_closes():
    with pytest.raises(Conflict, match="opens at"):
        proctor.start_deadline(1000.0, 5000.0, 20, None, now=999.0)
    with pytest.raises(Conflict, match="no start after the window"):
        proctor.start_deadline(1000.0, 5000.0, 20, None, now=5000.0)
    with pytest.raises(Conflict, match="cancelled"):
        proctor.start_deadline(1000.0, 5000.0, 20, 1500.0, now=2000.0)


def test_a_start_in_time_gets_the_full_duration_and_a_late_one_ends_with_the_window():
    assert proctor.start_deadline(1000.0, 5000.0, 20, None, now=1000.0) == 1000.0 + 20 * 60
    assert proctor.start_deadline(1000.0, 5000.0, 20, None, now=4700.0) == 5000.0  # 5 min left, not 20


def test_a_window_must_close_after_it_opens_and_in_the_future_with_a_sane_duration():
    assert proctor.schedule_problems(100.0, 200.0, 20, now=50.0) == []
    assert any("close after" in p for p in proctor.schedule_problems(200.0, 100.0, 20, now=50.0))
    assert any("past" in p for p in proctor.schedule_problems(10.0, 40.0, 20, now=50.0))
    assert any("minutes" in p for p in proctor.schedule_problems(100.0, 200.0, 0, now=50.0))
    assert any("minutes" in p for p in proctor.schedule_problems(100.0, 200.0, 601, now=50.0))


def test_attempts_left_never_goes_negative():
    assert proctor.attempts_left(3, 1) == 2
    assert proctor.attempts_left(1, 4) == 0


def test_the_exam_percent_weighs_tasks_and_takes_off_the_hint_cost():
    assert proctor.exam_percent([(1, 100.0), (1, 50.0)], hints_used=0, hint_cost=5) == (75.0, 75.0)
    assert proctor.exam_percent([(3, 100.0), (1, 0.0)], hints_used=2, hint_cost=5) == (75.0, 65.0)
    assert proctor.exam_percent([(1, 10.0)], hints_used=5, hint_cost=5) == (10.0, 0.0)


def test_a_task_grades_only_its_checks_and_public_grading_drops_hidden_ones():
    report = {
        "checks": [
            {"id": "a", "weight": 1, "score": 1, "passed": True, "hidden": False},
            {"id": "b", "weight": 1, "score": 0, "passed": False, "hidden": True},
            {"id": "c", "weight": 2, "score": 0, "passed": False, "hidden": False},
        ]
    }
    assert [c["id"] for c in proctor.selected_checks(report, ("a", "b"), True)] == ["a", "b"]
    assert [c["id"] for c in proctor.selected_checks(report, None, False)] == ["a", "c"]
    assert proctor.task_score(proctor.selected_checks(report, ("a", "b"), True)) == (50.0, 1, 2)


# ---------------------------------------------------------------- through the API


def schedule(client, opens=-60.0, closes=3600.0, **extra):
    now = time.time()
    body = {"exam": EXAM, "class": "c1", "opens_at": now + opens, "closes_at": now + closes, **extra}
    answer = client.post("/api/exams/scheduled", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def solve_current_task(classroom, client):
    """Write the reference solution of the caller's variant of the current task and deploy it."""
    status = client.get("/api/exam").json()
    exam = classroom.room.proctor.exam(status["exam"])
    lab = classroom.room.proctor.variant(exam, status["current_task"] - 1, status["seed"])
    for path in sorted(lab.solution_dir.rglob("*")):
        if path.is_file():
            rel = path.relative_to(lab.solution_dir).as_posix()
            assert (
                client.put(f"/api/session/files/{rel}", json={"content": path.read_text()}).status_code == 200
            )
    assert client.post("/api/session/deploy").status_code == 200


def attempt_row(classroom, attempt_id) -> ExamAttempt:
    with classroom.room.factory() as db:
        return db.get(ExamAttempt, attempt_id)


def test_an_instructor_schedules_an_exam_for_her_class_only_and_trainees_of_it_see_it(classroom):
    ivy, oto, ann, ada = (classroom.login(n) for n in ("ivy", "oto", "ann", "ada"))
    assert EXAM in [e["id"] for e in ivy.get("/api/exams/catalogue").json()["exams"]]
    made = schedule(ivy, minutes=15, hints_allowed=False)
    assert made["minutes"] == 15 and made["attempts"] == 3 and made["hints"]["allowed"] is False
    assert made["state"] == "open" and made["class"] == "c1"
    body = {"exam": EXAM, "class": "c1", "opens_at": time.time(), "closes_at": time.time() + 60}
    assert oto.post("/api/exams/scheduled", json=body).status_code == 404, "not her class"
    assert oto.get("/api/exams/scheduled").json()["scheduled"] == []
    assert oto.get(f"/api/exams/scheduled/{made['id']}/results").status_code == 404
    assert oto.post(f"/api/exams/scheduled/{made['id']}/cancel").status_code == 404
    assert [s["id"] for s in ada.get("/api/exams/scheduled").json()["scheduled"]] == [made["id"]]
    mine = ann.get("/api/exams").json()["exams"]
    assert [(e["id"], e["attempts_left"], e["my_attempts"]) for e in mine] == [(made["id"], 3, [])]
    assert ann.get("/api/exams/scheduled").status_code == 403


def test_bad_schedules_are_400_with_the_reason(classroom):
    ivy = classroom.login("ivy")
    now = time.time()
    answer = ivy.post(
        "/api/exams/scheduled", json={"exam": EXAM, "class": "c1", "opens_at": now, "closes_at": now - 5}
    )
    assert answer.status_code == 400 and "close after" in answer.json()["error"]
    answer = ivy.post(
        "/api/exams/scheduled", json={"exam": "nope", "class": "c1", "opens_at": now, "closes_at": now + 60}
    )
    assert answer.status_code == 404 and "no exam" in answer.json()["error"]
    assert ivy.post("/api/exams/scheduled", json={"exam": EXAM}).status_code == 422


def test_exams_with_scored_fault_scenarios_are_scheduled_and_the_sandbox_gets_their_definitions(
    classroom,
):
    ivy = classroom.login("ivy")
    now = time.time()
    for exam_id in ("iot_security", "iot_practitioner"):
        answer = ivy.post(
            "/api/exams/scheduled",
            json={"exam": exam_id, "class": "c1", "opens_at": now, "closes_at": now + 3600},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["exam"] == exam_id
    exams = classroom.room.proctor
    exam = exams.exam("iot_security")
    assert exams.scenarios_of(exam, 1, 7, include_hidden=True) is None, "task 1 has none"
    (sent,) = exams.scenarios_of(exam, 2, 7, include_hidden=True)
    assert sent["id"] == "scored-second-bot" and sent["scan_quarantine"]["src"] == "m3"
    assert sent["bands"] == [{"max": 3000.0, "credit": 1.0}, {"max": 8000.0, "credit": 0.5}]
    assert proctor.task_checks(exam.tasks[1]) is None


def test_a_whole_exam_two_tasks_check_switch_submit_certificate_and_results(classroom, tmp_path):
    ivy, ann, ben = classroom.login("ivy"), classroom.login("ann"), classroom.login("ben")
    made = schedule(ivy)
    status = ann.post(f"/api/exams/{made['id']}/start").json()
    assert status["status"] == "running" and status["current_task"] == 1
    assert 0 < status["seconds_left"] <= 20 * 60
    assert [t["lab"] for t in status["tasks"]] == ["static_flows", "smart_meters"]
    assert "task_html" in status and status["tasks"][0]["hidden_checks"] >= 1
    session = ann.get("/api/session").json()
    assert session["lab"] == "static_flows" and session["exam_attempt"] == status["attempt"]
    # the lab-only actions are refused on an exam task
    assert ann.post("/api/session/submit").status_code == 409
    assert ann.post("/api/session/hint").status_code == 409
    assert ann.post("/api/session/stop").status_code == 409
    assert ann.post("/api/labs/static_flows/start").status_code == 409
    first = ann.post("/api/exam/check").json()
    assert first["percent"] < 100 and all(not c["hidden"] for c in first["checks"])
    solve_current_task(classroom, ann)
    assert ann.post("/api/exam/check").json()["percent"] == 100.0
    status = ann.post("/api/exam/task", json={"task": 2}).json()
    assert status["current_task"] == 2 and ann.get("/api/session").json()["lab"] == "smart_meters"
    assert ann.post("/api/exam/task", json={"task": 2}).status_code == 409
    assert ann.post("/api/exam/task", json={"task": 3}).status_code == 400
    solve_current_task(classroom, ann)
    done = ann.post("/api/exam/submit").json()
    assert done["status"] == "submitted" and done["result"]["passed"] and done["result"]["percent"] == 100.0
    assert done["result"]["certificate"] and not done["result"]["auto_submitted"]
    assert '"checks"' not in json.dumps(done["result"]), "no per-check results for the trainee"
    assert ann.get("/api/session").status_code == 409, "the sandbox is gone"
    # the certificate verifies with the server's key, the evidence bundle with it
    certs = ann.get("/api/me/certificates").json()["certificates"]
    assert [c["attempt"] for c in certs] == [status["attempt"]]
    cert = tmp_path / "cert.json"
    cert.write_bytes(ann.get(f"/api/me/certificates/{status['attempt']}").content)
    key = tmp_path / "issuer.pub.pem"
    key.write_bytes(ann.get("/api/exams/issuer-key").content)
    bundle = tmp_path / "evidence.zip"
    bundle.write_bytes(ivy.get(f"/api/exams/attempts/{status['attempt']}/evidence").content)
    facts = credential.verify(cert, keys.load_public(key), evidence=bundle)
    assert facts.trainee == "ann" and facts.exam_id == EXAM and facts.score_percent == 100.0
    assert facts.skills, "the certified skills are named"
    assert "ann" in ann.get(f"/api/me/certificates/{status['attempt']}/page?lang=ja").text
    # another trainee reaches none of it; the trainee cannot download the evidence (hidden checks)
    assert ben.get(f"/api/me/certificates/{status['attempt']}").status_code == 404
    assert ben.get(f"/api/me/certificates/{status['attempt']}/page").status_code == 404
    assert ben.get("/api/exam").status_code == 409
    assert ann.get(f"/api/exams/attempts/{status['attempt']}/evidence").status_code == 403
    # the instructor's results, JSON and CSV, and the full attempt with hidden checks
    results = ivy.get(f"/api/exams/scheduled/{made['id']}/results").json()["results"]
    assert [(r["user"], r["percent"], r["passed"], r["certificate"]) for r in results] == [
        ("ann", 100.0, True, True)
    ]
    table = list(
        csv.DictReader(io.StringIO(ivy.get(f"/api/exams/scheduled/{made['id']}/results?format=csv").text))
    )
    assert table[0]["user"] == "ann" and table[0]["task1_percent"] == "100.0"
    detail = ivy.get(f"/api/exams/attempts/{status['attempt']}").json()
    assert any(c["hidden"] for c in detail["tasks"][0]["graded"]["report"]["checks"])
    assert classroom.login("oto").get(f"/api/exams/attempts/{status['attempt']}").status_code == 404


def test_hidden_check_texts_never_reach_the_trainee(classroom):
    ivy, ann = classroom.login("ivy"), classroom.login("ann")
    made = schedule(ivy)
    status = ann.post(f"/api/exams/{made['id']}/start").json()
    exam = classroom.room.proctor.exam(EXAM)
    lab = classroom.room.proctor.variant(exam, 0, status["seed"])
    hidden = [b.description for b in lab.behaviours if b.hidden and b.description]
    assert hidden
    answers = [ann.get("/api/exam").text, ann.post("/api/exam/check").text]
    ann.post("/api/exam/submit")
    answers += [ann.get("/api/exam").text, ann.get("/api/exams").text]
    for text in answers:
        for description in hidden:
            assert description not in text


def test_at_the_deadline_the_clock_submits_and_the_network_stays_as_it_was(classroom):
    ivy, ann = classroom.login("ivy"), classroom.login("ann")
    made = schedule(ivy)
    status = ann.post(f"/api/exams/{made['id']}/start").json()
    solve_current_task(classroom, ann)
    row = attempt_row(classroom, status["attempt"])
    assert classroom.room.proctor.submit_expired(now=row.deadline - 1) == []
    assert classroom.room.proctor.submit_expired(now=row.deadline + 0.5) == [status["attempt"]]
    row = attempt_row(classroom, status["attempt"])
    assert row.status == "submitted" and row.auto_submitted
    assert row.result["tasks"][0]["percent"] == 100.0, "task 1 graded as it was at the time limit"
    assert row.result["tasks"][1]["error"] == "not attempted" and row.percent == 50.0
    assert not row.passed and row.certificate is None
    assert ann.put("/api/session/files/flows/s1.flows", json={"content": "x\n"}).status_code == 409
    after = ann.get("/api/exam").json()
    assert after["status"] == "submitted" and after["seconds_left"] == 0 and after["result"]["auto_submitted"]
    assert classroom.room.proctor.submit_expired(now=row.deadline + 5) == [], "submitted once"


def test_writes_and_deploys_are_refused_from_the_time_limit_on(classroom, monkeypatch):
    ivy, ann = classroom.login("ivy"), classroom.login("ann")
    status = ann.post(f"/api/exams/{schedule(ivy)['id']}/start").json()
    deadline = attempt_row(classroom, status["attempt"]).deadline
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + (deadline - real()) + 1)  # the clock past the limit
    assert ann.post("/api/session/deploy").status_code == 409
    assert ann.put("/api/session/files/flows/s1.flows", json={"content": "x\n"}).status_code == 409


def test_a_late_start_ends_with_the_window(classroom):
    ivy, ann = classroom.login("ivy"), classroom.login("ann")
    made = schedule(ivy, opens=-600.0, closes=120.0)  # 2 minutes left of a 20-minute exam
    status = ann.post(f"/api/exams/{made['id']}/start").json()
    assert status["deadline"] == pytest.approx(made["closes_at"])
    assert status["seconds_left"] <= 120


def test_no_start_outside_the_window_or_after_cancel(classroom):
    ivy, ann = classroom.login("ivy"), classroom.login("ann")
    later = schedule(ivy, opens=600.0, closes=3600.0)
    answer = ann.post(f"/api/exams/{later['id']}/start")
    assert answer.status_code == 409 and "opens at" in answer.json()["error"]
    now = schedule(ivy)
    assert ivy.post(f"/api/exams/scheduled/{now['id']}/cancel").json()["state"] == "cancelled"
    assert ivy.post(f"/api/exams/scheduled/{now['id']}/cancel").status_code == 409
    answer = ann.post(f"/api/exams/{now['id']}/start")
    assert answer.status_code == 409 and "cancelled" in answer.json()["error"]
    assert ann.get("/api/session").status_code == 409, "no sandbox was started"


def test_attempts_follow_the_exam_file_and_one_runs_at_a_time(classroom):
    ivy, ann = classroom.login("ivy"), classroom.login("ann")
    made = schedule(ivy)
    seeds = set()
    for number in (1, 2, 3):
        status = ann.post(f"/api/exams/{made['id']}/start").json()
        seeds.add(status["seed"])
        assert ann.post(f"/api/exams/{made['id']}/start").status_code == 409, "one at a time"
        assert ann.post("/api/exam/submit").status_code == 200
        assert ann.get("/api/exams").json()["exams"][0]["attempts_left"] == 3 - number
    answer = ann.post(f"/api/exams/{made['id']}/start")
    assert answer.status_code == 409 and "all 3 attempt" in answer.json()["error"]
    assert len(seeds) >= 2, "every attempt gets a fresh seed"


def test_a_running_lab_must_be_stopped_before_the_exam(classroom):
    ivy, ann = classroom.login("ivy"), classroom.login("ann")
    made = schedule(ivy)
    ann.post("/api/labs/static_flows/start")
    answer = ann.post(f"/api/exams/{made['id']}/start")
    assert answer.status_code == 409 and "stop it" in answer.json()["error"]


def test_hints_cost_points_when_allowed_and_are_refused_otherwise(classroom):
    ivy, ann, ben = classroom.login("ivy"), classroom.login("ann"), classroom.login("ben")
    with_hints = schedule(ivy, hint_cost=10)
    ann.post(f"/api/exams/{with_hints['id']}/start")
    hint = ann.post("/api/exam/hint").json()
    assert hint["number"] == 1 and hint["text"]["en"] and hint["points_lost"] == 10.0
    solve_current_task(classroom, ann)
    ann.post("/api/exam/task", json={"task": 2})
    solve_current_task(classroom, ann)
    result = ann.post("/api/exam/submit").json()["result"]
    assert result["raw_percent"] == 100.0 and result["percent"] == 90.0 and result["hints_used"] == 1
    without = schedule(ivy, hints_allowed=False)
    ben.post(f"/api/exams/{without['id']}/start")
    answer = ben.post("/api/exam/hint")
    assert answer.status_code == 409 and "no hints" in answer.json()["error"]


def test_coming_back_to_a_task_restores_its_files(classroom):
    ivy, ann = classroom.login("ivy"), classroom.login("ann")
    ann.post(f"/api/exams/{schedule(ivy)['id']}/start")
    ann.put("/api/session/files/flows/s1.flows", json={"content": "# ann was here\n"})
    ann.post("/api/exam/task", json={"task": 2})
    assert "ann was here" not in ann.get("/api/session/files/flows/s1.flows").text
    ann.post("/api/exam/task", json={"task": 1})
    assert "ann was here" in ann.get("/api/session/files/flows/s1.flows").json()["content"]


def test_the_instructor_solve_path_marks_a_reference_run_and_passes(classroom, tmp_path):
    ivy, ann, oto = classroom.login("ivy"), classroom.login("ann"), classroom.login("oto")
    status = ann.post(f"/api/exams/{schedule(ivy)['id']}/start").json()
    assert oto.post(f"/api/exams/attempts/{status['attempt']}/solve").status_code == 404
    assert ivy.post(f"/api/exams/attempts/{status['attempt']}/solve").json()["reference_run"] is True
    done = ann.post("/api/exam/submit").json()  # task 2 never opened: graded in a short-lived sandbox
    assert done["result"]["percent"] == 100.0 and done["result"]["passed"]
    cert = tmp_path / "c.json"
    cert.write_bytes(ann.get(f"/api/me/certificates/{status['attempt']}").content)
    assert credential.verify(cert, classroom.room.proctor.key.public_key()).reference_run
    assert ann.get("/api/exams").json()["exams"][0]["attempts_left"] == 3, "a reference run is no attempt"


def test_the_evidence_holds_every_task_the_terminal_history_and_matches_the_manifest(classroom, tmp_path):
    ivy, ann = classroom.login("ivy"), classroom.login("ann")
    status = ann.post(f"/api/exams/{schedule(ivy)['id']}/start").json()
    with classroom.room.factory.begin() as db:
        session = db.query(LabSession).filter_by(exam_attempt_id=status["attempt"]).one()
        db.add(
            TerminalLine(
                session_id=session.id, user_id=session.user_id, at=time.time(), line="ovs-ofctl dump-flows s1"
            )
        )
    ann.post("/api/exam/submit")
    data = ivy.get(f"/api/exams/attempts/{status['attempt']}/evidence").content
    path = tmp_path / "e.zip"
    path.write_bytes(data)
    row = attempt_row(classroom, status["attempt"])
    manifest = verify_bundle(path, row.manifest_sha256)
    names = {f["path"] for f in manifest["files"]}
    assert {"attempt.json", "exam.yaml", "terminal/history.txt"} <= names
    assert "tasks/1-static_flows/report.json" in names and "tasks/1-static_flows/variant.json" in names
    assert "tasks/1-static_flows/workspace/flows/s1.flows" in names
    assert "tasks/1-static_flows/tables/s2.flows" in names, "the switches' tables as graded"
    history = zipfile.ZipFile(path).read("terminal/history.txt").decode()
    assert "[static_flows] ovs-ofctl dump-flows s1" in history
    assert manifest["facts"]["seed"] == status["seed"] and manifest["facts"]["trainee"] == "ann"
    assert "ovs-ofctl dump-flows s1" in ivy.get(f"/api/exams/attempts/{status['attempt']}").text


def test_a_lab_submit_keeps_the_terminal_history_for_the_instructor(classroom):
    ann, ivy = classroom.login("ann"), classroom.login("ivy")
    session = ann.post("/api/labs/static_flows/start").json()
    with classroom.room.factory.begin() as db:
        db.add(
            TerminalLine(session_id=session["id"], user_id=1, at=time.time(), line="ovs-ofctl dump-flows s2")
        )
    assert "terminal_history" not in ann.post("/api/session/submit").json()
    report = ivy.get(f"/api/class/sessions/{session['id']}").json()["last_report"]
    assert [h["line"] for h in report["terminal_history"]] == ["ovs-ofctl dump-flows s2"]
