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
    assert len(classroom.room.proctor._attempts) == 0, "no attempt lock kept once its operations are done"
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


# ---------------------------------------------------------------- cancelling an exam


def test_cancelling_closes_the_attempts_in_progress_without_a_result_and_frees_their_sandboxes(classroom):
    ivy, oto, ann, ben = (classroom.login(n) for n in ("ivy", "oto", "ann", "ben"))
    made = schedule(ivy)
    started = {
        name: c.post(f"/api/exams/{made['id']}/start").json() for name, c in (("ann", ann), ("ben", ben))
    }
    ann.put("/api/session/files/flows/s1.flows", json={"content": "# ann was here\n"})
    sandboxes = {c.get("/api/session").json()["sandbox"] for c in (ann, ben)}
    assert sandboxes <= set(classroom.backend.sandboxes())
    assert oto.post(f"/api/exams/scheduled/{made['id']}/cancel").status_code == 404, "not her class"

    answer = ivy.post(f"/api/exams/scheduled/{made['id']}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "cancelled" and answer.json()["attempts_cancelled"] == 2
    assert not sandboxes & set(classroom.backend.sandboxes()), "both sandboxes are stopped"
    # the trainee sees it, and nothing of the attempt can be done any more
    seen = ann.get("/api/exam").json()
    assert seen["status"] == "cancelled" and "cancelled" in seen["note"] and seen["result"] is None
    assert seen["seconds_left"] == 0 and seen["cancelled_at"] >= seen["started_at"]
    assert ann.get("/api/session").status_code == 409
    for request in (
        lambda: ann.post("/api/exam/check"),
        lambda: ann.post("/api/exam/submit"),
        lambda: ann.post("/api/exam/hint"),
        lambda: ann.post("/api/exam/task", json={"task": 2}),
        lambda: ann.put("/api/session/files/flows/s1.flows", json={"content": "late\n"}),
    ):
        assert request().status_code == 409
    mine = ann.get("/api/exams").json()["exams"][0]
    assert mine["state"] == "cancelled" and mine["attempts_left"] == 3, "a cancelled exam costs no attempt"
    assert [a["status"] for a in mine["my_attempts"]] == ["cancelled"]
    assert ann.get("/api/me/certificates").json() == {"certificates": []}
    # the instructor keeps the record: status, the saved files; no score, no evidence bundle
    results = ivy.get(f"/api/exams/scheduled/{made['id']}/results").json()["results"]
    assert [(r["user"], r["status"], r["percent"], r["certificate"]) for r in results] == [
        ("ann", "cancelled", None, False),
        ("ben", "cancelled", None, False),
    ]
    attempt = started["ann"]["attempt"]
    assert "flows/s1.flows" in ivy.get(f"/api/exams/attempts/{attempt}").json()["tasks"][0]["files"]
    assert attempt_row(classroom, attempt).tasks[0]["files"]["flows/s1.flows"] == "# ann was here\n"
    assert ivy.get(f"/api/exams/attempts/{attempt}/evidence").status_code == 409
    with classroom.room.factory() as db:
        running = db.query(LabSession).filter(LabSession.state.in_(("starting", "running"))).count()
    assert running == 0
    assert classroom.room.proctor.submit_expired(now=time.time() + 10**5) == [], (
        "the clock leaves them closed"
    )
    assert ivy.post(f"/api/exams/scheduled/{made['id']}/cancel").status_code == 409


def test_at_cancel_an_attempt_whose_time_was_up_is_submitted_as_at_its_deadline(classroom):
    """A fake clock: ann's time is up at 300 s, ben's at 1200 s, the exam is cancelled at 600 s."""
    from sdnlab.classroom.db import User
    from sdnlab.classroom.proctor import Proctor

    ivy, ann, ben = (classroom.login(n) for n in ("ivy", "ann", "ben"))
    made = schedule(ivy)
    a = ann.post(f"/api/exams/{made['id']}/start").json()["attempt"]
    solve_current_task(classroom, ann)
    b = ben.post(f"/api/exams/{made['id']}/start").json()["attempt"]
    solve_current_task(classroom, ben)
    t0 = time.time()
    with classroom.room.factory.begin() as db:
        db.get(ExamAttempt, a).deadline = t0 + 300
        db.get(ExamAttempt, b).deadline = t0 + 1200
    proctor_: Proctor = classroom.room.proctor
    with classroom.room.factory() as db:
        instructor = db.query(User).filter_by(username="ivy").one()
        proctor_.cancel(db, instructor, made["id"], now=t0 + 600)
    ann_row, ben_row = attempt_row(classroom, a), attempt_row(classroom, b)
    assert ann_row.status == "submitted" and ann_row.auto_submitted, "her time was up before the cancel"
    assert ann_row.result["tasks"][0]["percent"] == 100.0 and ann_row.evidence is not None
    assert ben_row.status == "cancelled" and ben_row.result is None and ben_row.certificate is None
    assert ben.get("/api/exam").json()["status"] == "cancelled"
    assert "flows/s1.flows" in ben_row.tasks[0]["files"], "his work is kept for the record"


def instructor_ivy(classroom):
    from sdnlab.classroom.db import User

    with classroom.room.factory() as db:
        return db.query(User).filter_by(username="ivy").one()


def running_sessions(classroom) -> int:
    with classroom.room.factory() as db:
        return db.query(LabSession).filter(LabSession.state.in_(("starting", "running"))).count()


def test_a_cancel_just_after_a_start_committed_starts_no_sandbox_for_the_cancelled_attempt(
    classroom, monkeypatch
):
    """The cancel comes between the start's commit and its taking the attempt's lock (it found no
    sandbox to stop; the start then started one for a cancelled attempt, left running)."""
    ivy, ann = classroom.login("ivy"), classroom.login("ann")
    made = schedule(ivy)
    proctor_ = classroom.room.proctor
    real_lock, cancelled = proctor_.lock, []

    def lock(attempt_id):
        if not cancelled:  # the first lock taken is the new attempt's, right after its commit
            cancelled.append(attempt_id)
            with classroom.room.factory() as db:
                proctor_.cancel(db, instructor_ivy(classroom), made["id"], now=time.time())
        return real_lock(attempt_id)

    monkeypatch.setattr(proctor_, "lock", lock)
    answer = ann.post(f"/api/exams/{made['id']}/start")
    assert answer.status_code == 409 and "cancelled" in answer.json()["error"], answer.text
    assert running_sessions(classroom) == 0 and classroom.backend.sandboxes() == []
    assert attempt_row(classroom, cancelled[0]).status == "cancelled", "kept for the record"


def test_a_cancel_during_a_submits_grading_wins_no_result_and_no_certificate(classroom, monkeypatch):
    """The cancel commits while the submit grades (it waits for the attempt's lock, not the grading):
    the submit used to finish as "submitted" with a signed certificate."""
    import threading

    ivy, ann = classroom.login("ivy"), classroom.login("ann")
    made = schedule(ivy)
    attempt = ann.post(f"/api/exams/{made['id']}/start").json()["attempt"]
    assert ivy.post(f"/api/exams/attempts/{attempt}/solve").status_code == 200  # it would pass
    proctor_ = classroom.room.proctor
    real_grade, cancels = proctor_._grade_full, []

    def cancel():
        with classroom.room.factory() as db:
            proctor_.cancel(db, instructor_ivy(classroom), made["id"], now=time.time())

    def grade(*args, **kwargs):
        if not cancels:
            cancels.append(threading.Thread(target=cancel))
            cancels[0].start()
            for _ in range(400):  # until the cancel is committed (it then waits for the submit's lock)
                if attempt_row(classroom, attempt).status == "cancelled":
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the cancel did not commit")
        return real_grade(*args, **kwargs)

    monkeypatch.setattr(proctor_, "_grade_full", grade)
    assert ann.post("/api/exam/submit").status_code == 200
    cancels[0].join(30)
    row = attempt_row(classroom, attempt)
    assert row.status == "cancelled" and row.result is None and row.percent is None
    assert row.certificate is None and row.evidence is None and row.submitted_at is None
    assert ann.get("/api/me/certificates").json() == {"certificates": []}
    assert running_sessions(classroom) == 0
    assert row.tasks[0]["files"], "the work is kept for the record"


def test_a_submit_that_fails_at_cancel_still_closes_the_cancelled_attempts(classroom, monkeypatch):
    """A fake clock: ann's time is up at 300 s, ben's at 1200 s, the exam is cancelled at 600 s and
    ann's grading raises. Ben's sandbox is stopped all the same; the clock submits ann's later."""
    from sdnlab.errors import SdnlabError

    ivy, ann, ben = (classroom.login(n) for n in ("ivy", "ann", "ben"))
    made = schedule(ivy)
    a = ann.post(f"/api/exams/{made['id']}/start").json()["attempt"]
    b = ben.post(f"/api/exams/{made['id']}/start").json()["attempt"]
    t0 = time.time()
    with classroom.room.factory.begin() as db:
        db.get(ExamAttempt, a).deadline = t0 + 300
        db.get(ExamAttempt, b).deadline = t0 + 1200
    proctor_ = classroom.room.proctor

    def broken_submit(*args, **kwargs):
        raise SdnlabError("the grader broke")

    monkeypatch.setattr(proctor_, "submit", broken_submit)
    with classroom.room.factory() as db:
        proctor_.cancel(db, instructor_ivy(classroom), made["id"], now=t0 + 600)  # no exception
    assert attempt_row(classroom, b).status == "cancelled"
    assert ben.get("/api/session").status_code == 409
    assert running_sessions(classroom) == 1, "only ann's, whose time was up: submitted at the next tick"
    monkeypatch.undo()
    assert proctor_.submit_expired(now=t0 + 600) == [a]
    assert attempt_row(classroom, a).status == "submitted" and running_sessions(classroom) == 0


def test_an_attempt_handed_in_during_the_cancel_keeps_its_result_and_is_not_counted_as_cancelled(classroom):
    """Ann hands her exam in while the cancel's transaction is open, just before it closes the running
    attempts: her submit stands, and the cancel's answer, its audit line and its log count only
    ben's attempt, the one it stored as cancelled (they used to count what it had read as running)."""
    import threading

    from sqlalchemy import event, select

    from sdnlab.classroom.db import AuditEntry

    engine = classroom.room.factory.kw["bind"]
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: from its first write the cancel holds the whole "
                    "database, so no submit can commit inside it (PostgreSQL locks rows)")  # fmt: skip
    ivy, ann, ben = (classroom.login(n) for n in ("ivy", "ann", "ben"))
    made = schedule(ivy)
    a = ann.post(f"/api/exams/{made['id']}/start").json()["attempt"]
    solve_current_task(classroom, ann)
    b = ben.post(f"/api/exams/{made['id']}/start").json()["attempt"]
    handed_in = []

    def submit_first(conn, cursor, statement, parameters, context, executemany):
        closing = statement.startswith("UPDATE exam_attempts SET status") and "cancelled" in str(parameters)
        if closing and not handed_in:  # the cancel is about to close the attempts: ann submits now
            handed_in.append(None)
            worker = threading.Thread(target=lambda: handed_in.append(ann.post("/api/exam/submit")))
            worker.start()
            worker.join(60)

    event.listen(engine, "before_cursor_execute", submit_first)
    try:
        answer = ivy.post(f"/api/exams/scheduled/{made['id']}/cancel")
    finally:
        event.remove(engine, "before_cursor_execute", submit_first)
    assert len(handed_in) == 2 and handed_in[1].status_code == 200, "ann's submit ran inside the cancel"
    assert answer.status_code == 200, answer.text
    kept = attempt_row(classroom, a)
    assert kept.status == "submitted" and kept.result["tasks"][0]["percent"] == 100.0 and kept.evidence
    assert attempt_row(classroom, b).status == "cancelled"
    assert answer.json()["attempts_cancelled"] == 1
    with classroom.room.factory() as db:
        [line] = db.scalars(select(AuditEntry.detail).where(AuditEntry.action == "exam.cancel"))
    assert line == f"id={made['id']} attempts_closed={b}"
    assert [r["status"] for r in ivy.get(f"/api/exams/scheduled/{made['id']}/results").json()["results"]] == [
        "submitted",
        "cancelled",
    ]
    assert ann.get("/api/exam").json()["status"] == "submitted", "her result stands"
    assert running_sessions(classroom) == 0


def test_an_exam_task_counts_validations_against_the_cap_like_any_lab(classroom, monkeypatch):
    from sdnlab.classroom.db import User

    with classroom.room.factory() as db:
        ivy_user = db.query(User).filter_by(username="ivy").one()
    job = classroom.room.validations.submit("smart_meters", "auto", ivy_user, run=False)
    assert job["in_sandbox"]
    monkeypatch.setattr(classroom.room.settings, "max_sandboxes", 2)
    ivy, ann, ben = (classroom.login(n) for n in ("ivy", "ann", "ben"))
    assert ben.post("/api/labs/static_flows/start").status_code == 200  # 1 validation + 1 lab: full
    made = schedule(ivy)
    full = ann.post(f"/api/exams/{made['id']}/start")
    assert full.status_code == 503 and "full" in full.json()["error"], full.text
    assert running_sessions(classroom) == 1
    assert ben.post("/api/session/stop").status_code == 200
    assert ann.post(f"/api/exams/{made['id']}/start").status_code == 200, "the place is free again"


# ---------------------------------------------------------------- the certificate as PDF


def passed_attempt(classroom, trainee="ann") -> int:
    """An attempt of ``trainee`` passed through the instructor's solve path: it has a certificate."""
    ivy, client = classroom.login("ivy"), classroom.login(trainee)
    attempt = client.post(f"/api/exams/{schedule(ivy)['id']}/start").json()["attempt"]
    assert ivy.post(f"/api/exams/attempts/{attempt}/solve").status_code == 200
    assert client.post("/api/exam/submit").json()["result"]["certificate"]
    return attempt


def test_the_certificate_prints_to_pdf_in_english_and_japanese_for_its_trainee_and_her_instructors(
    classroom, monkeypatch
):
    import pdfcheck

    from sdnlab.certification import page

    pdfcheck.need_tools()
    attempt = passed_attempt(classroom)
    ann, ben, ivy, oto, ada = (classroom.login(n) for n in ("ann", "ben", "ivy", "oto", "ada"))
    english = ann.get(f"/api/me/certificates/{attempt}/pdf?lang=en")
    assert english.status_code == 200, english.text
    assert english.headers["content-type"] == "application/pdf"
    assert f"certificate-{attempt}.en.pdf" in english.headers["content-disposition"]
    words = " ".join(pdfcheck.text(english.content).split())
    assert "ann" in words.split() and "Quick check: OpenFlow flows and least privilege" in words
    assert f"{EXAM}-classroom-{attempt}" in words.replace(" ", "")
    japanese = ann.get(f"/api/me/certificates/{attempt}/pdf?lang=ja")
    assert japanese.status_code == 200, japanese.text
    assert "技能認定証" in "".join(pdfcheck.text(japanese.content).split())
    assert pdfcheck.embedded_japanese_font(japanese.content) is not None, pdfcheck.fonts(japanese.content)
    # the instructor of her class and an admin print it too; another trainee or class: 404
    assert ivy.get(f"/api/me/certificates/{attempt}/pdf").status_code == 200
    assert ivy.get(f"/api/me/certificates/{attempt}/page?lang=ja").status_code == 200
    assert ada.get(f"/api/me/certificates/{attempt}/pdf?lang=ja").status_code == 200
    for stranger in (ben, oto):
        assert stranger.get(f"/api/me/certificates/{attempt}/pdf").status_code == 404
        assert stranger.get(f"/api/me/certificates/{attempt}/page").status_code == 404
    assert ivy.get(f"/api/me/certificates/{attempt}").status_code == 404, "the signed file: the trainee's"
    assert ann.get(f"/api/me/certificates/{attempt}/pdf?lang=fr").status_code == 400
    assert ann.get("/api/me/certificates/999999/pdf").status_code == 404
    # printed once: a second download is the kept file (no Chromium needed any more)
    monkeypatch.setattr(page, "chromium", lambda: None)
    again = ivy.get(f"/api/me/certificates/{attempt}/pdf?lang=ja")
    assert again.status_code == 200 and again.content == japanese.content


def test_a_server_that_cannot_print_answers_503_with_the_reason_never_500(classroom, monkeypatch, tmp_path):
    from sdnlab.certification import page

    attempt = passed_attempt(classroom)
    ann = classroom.login("ann")
    monkeypatch.setattr(page, "chromium", lambda: None)
    answer = ann.get(f"/api/me/certificates/{attempt}/pdf")
    assert answer.status_code == 503
    assert "no Chromium" in answer.json()["error"] and "print it from your browser" in answer.json()["error"]
    hang = tmp_path / "hanging-chromium"
    hang.write_text("#!/bin/sh\nexec sleep 300\n")
    hang.chmod(0o755)
    monkeypatch.setattr(page, "chromium", lambda: str(hang))
    monkeypatch.setattr(classroom.room.settings, "pdf_timeout_s", 1.0)
    started = time.monotonic()
    answer = ann.get(f"/api/me/certificates/{attempt}/pdf?lang=ja")
    assert answer.status_code == 503 and "within 1 s" in answer.json()["error"]
    assert time.monotonic() - started < 10
    printers = classroom.room.proctor._printers  # as many prints in flight as the server allows
    for _ in range(classroom.room.settings.pdf_printers):
        assert printers.acquire(timeout=1)
    try:
        answer = ann.get(f"/api/me/certificates/{attempt}/pdf")
        assert answer.status_code == 503 and "printing other certificates" in answer.json()["error"]
    finally:
        for _ in range(classroom.room.settings.pdf_printers):
            printers.release()
    assert ann.get(f"/api/me/certificates/{attempt}/page?lang=ja").status_code == 200, "the page still works"


def test_concurrent_downloads_of_a_page_not_yet_printed_print_it_once(classroom, monkeypatch):
    """Four downloads at once of an uncached page: one print (they each printed it: two at a time)."""
    from concurrent.futures import ThreadPoolExecutor

    from sdnlab.certification import page

    document = attempt_row(classroom, passed_attempt(classroom)).certificate
    prints = []

    def slow_print(html, timeout):  # Chromium takes its time
        prints.append(html)
        time.sleep(0.5)
        return b"%PDF-1.4 printed once\n"

    monkeypatch.setattr(page, "print_pdf", slow_print)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: classroom.room.proctor.certificate_pdf(document, "en"), range(4)))
    assert got == [b"%PDF-1.4 printed once\n"] * 4
    assert len(prints) == 1
    assert len(classroom.room.proctor._pages) == 0, "no print lock left once the downloads are done"


def test_printing_many_certificates_keeps_no_lock_per_certificate(classroom, monkeypatch):
    """25 distinct certificates, each printed in both languages (KeyedLocks' own test takes 10,000 keys):
    the print locks by page hash are gone once each print is done (they used to stay, two per
    certificate, for the server's lifetime)."""
    from sdnlab.certification import page
    from sdnlab.certification.canonical import pretty

    document = json.loads(attempt_row(classroom, passed_attempt(classroom)).certificate)
    proctor_ = classroom.room.proctor
    prints = []
    monkeypatch.setattr(page, "print_pdf", lambda html, timeout: prints.append(html) or b"%PDF-1.4\n")
    for n in range(25):
        document["credentialSubject"]["name"] = f"trainee-{n}"
        for lang in ("en", "ja"):
            assert proctor_.certificate_pdf(pretty(document), lang) == b"%PDF-1.4\n"
            assert len(proctor_._pages) == 0
    assert len(prints) == len(set(prints)) == 50, "every page was printed, each once"


def test_a_printed_pdf_is_served_when_the_state_folder_cannot_keep_it(classroom, monkeypatch):
    from sdnlab.certification import page

    attempt = passed_attempt(classroom)
    (classroom.room.state_dir / "certificates").write_text("a file where the folder should be\n")
    monkeypatch.setattr(page, "print_pdf", lambda html, timeout: b"%PDF-1.4 not kept\n")
    answer = classroom.login("ann").get(f"/api/me/certificates/{attempt}/pdf")
    assert answer.status_code == 200 and answer.content == b"%PDF-1.4 not kept\n"


def test_a_chromium_that_cannot_start_answers_503_with_the_reason(classroom, monkeypatch, tmp_path):
    from sdnlab.certification import page

    attempt = passed_attempt(classroom)
    broken = tmp_path / "chromium-not-executable"
    broken.write_text("#!/bin/sh\n")
    broken.chmod(0o644)
    monkeypatch.setattr(page, "chromium", lambda: str(broken))
    answer = classroom.login("ann").get(f"/api/me/certificates/{attempt}/pdf")
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert "did not start" in error and "print it from your browser" in error


# ---------------------------------------------------------------- no connection held while a sandbox works


def one_connection_app(classroom, db_url, backend):
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from sdnlab.classroom import db as cdb
    from sdnlab.classroom.app import create_app

    from .conftest import PASSWORD

    engine = create_engine(cdb.normalise_url(db_url), pool_size=1, max_overflow=0, pool_timeout=3)
    app = create_app(sessionmaker(engine, expire_on_commit=False), backend, classroom.room.settings)

    def login(name):
        client = TestClient(app)
        answer = client.post("/api/login", json={"username": name, "password": PASSWORD + name})
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        return client

    return engine, app, login


def while_held(request, calls, released, other) -> list:
    """Run ``request`` in a thread; every time it reaches the sandbox (a name on ``calls``), ``other``
    must be served; then the sandbox call goes on. Returns [the answer, the sandbox calls seen]."""
    import queue
    import threading

    answers, seen = [], []
    worker = threading.Thread(target=lambda: answers.append(request()))
    worker.start()
    while worker.is_alive() or not calls.empty():
        try:
            seen.append(calls.get(timeout=0.2))
        except queue.Empty:
            continue
        assert other().status_code == 200, f"not served while the exam's {seen[-1]} waits on the sandbox"
        released.put(None)
    worker.join(30)
    return [answers[0], seen]


def attempt_of(client) -> int:
    return client.get("/api/exam").json()["attempt"]


def test_an_exam_holds_no_database_connection_while_its_sandbox_starts_grades_or_stops(
    classroom, db_url, tmp_path
):
    """With a one-connection pool, another trainee is served while the exam's sandbox works at
    start, check, task switch and submit (the proctor held its session across the grading: the
    other request timed out on the pool, and the submit's own sessions waited on it)."""
    import queue

    from sdnlab.classroom.runner import LocalRunner

    class GatedRunner(LocalRunner):
        calls: queue.Queue = queue.Queue()
        released: queue.Queue = queue.Queue()

        def _gate(self, name):
            self.calls.put(name)
            assert self.released.get(timeout=30) is None

        def start(self, *args, **kwargs):
            self._gate("start")
            return super().start(*args, **kwargs)

        def grade(self, *args, **kwargs):
            self._gate("grade")
            return super().grade(*args, **kwargs)

    backend = GatedRunner(tmp_path / "gated", network=False)
    engine, app, login = one_connection_app(classroom, db_url, backend)
    try:
        from fastapi.testclient import TestClient

        with TestClient(app):
            ivy, ann, ben = login("ivy"), login("ann"), login("ben")
            made = schedule(ivy)
            steps = [
                (lambda: ann.post(f"/api/exams/{made['id']}/start"), ["start"]),
                (lambda: ann.post("/api/exam/check"), ["grade"]),
                (lambda: ann.post("/api/exam/task", json={"task": 2}), ["grade", "start"]),
                (lambda: ivy.post(f"/api/exams/attempts/{attempt_of(ann)}/solve"), []),
                # task 2 graded on its sandbox, then task 1's solved files in a short-lived one
                (lambda: ann.post("/api/exam/submit"), ["grade", "start", "grade"]),
            ]
            for request, expected in steps:
                answer, seen = while_held(
                    request, backend.calls, backend.released, lambda: ben.get("/api/labs")
                )
                assert answer.status_code == 200, answer.text
                assert seen == expected
            final = ann.get("/api/exam").json()
            assert final["status"] == "submitted" and final["result"]["percent"] == 100.0
    finally:
        engine.dispose()


def test_a_pdf_being_printed_holds_no_database_connection(classroom, db_url, tmp_path, monkeypatch):
    """Chromium waits for a go; meanwhile another request is served through a one-connection pool."""
    import queue

    import pdfcheck

    from sdnlab.certification import page

    pdfcheck.need_tools()
    attempt = passed_attempt(classroom)
    real = page.chromium()
    gate = tmp_path / "gate"
    gated = tmp_path / "gated-chromium"
    gated.write_text(
        f'#!/bin/sh\ntouch {gate}.busy\nwhile [ ! -e {gate}.go ]; do sleep 0.05; done\nexec {real} "$@"\n'
    )
    gated.chmod(0o755)
    monkeypatch.setattr(page, "chromium", lambda: str(gated))
    calls: queue.Queue = queue.Queue()

    class Watch:  # turns the script's "busy" file into a call on the queue, "go" into its release
        def put(self, _):
            gate.with_suffix(".go").touch()

    engine, app, login = one_connection_app(classroom, db_url, classroom.backend)
    try:
        from fastapi.testclient import TestClient

        with TestClient(app):
            ann, ben = login("ann"), login("ben")

            def request():
                return ann.get(f"/api/me/certificates/{attempt}/pdf")

            import threading

            def watch():
                for _ in range(600):
                    if gate.with_suffix(".busy").exists():
                        calls.put("print")
                        return
                    time.sleep(0.05)

            threading.Thread(target=watch, daemon=True).start()
            answer, seen = while_held(request, calls, Watch(), lambda: ben.get("/api/labs"))
            assert seen == ["print"]
            assert answer.status_code == 200 and answer.content.startswith(b"%PDF-")
    finally:
        engine.dispose()
