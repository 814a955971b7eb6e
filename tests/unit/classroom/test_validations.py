"""Lab validation from the instructor pages, and the drill-down's drawing of a trainee's lab.

Real app, real database (SQLite and PostgreSQL), the workspace backend (real files, static
grading): ``sdnlab lab validate`` runs as a background job through the same sandbox calls a
trainee's lab uses; the live version runs in tests/integration/classroom/test_browser.py.
"""

from __future__ import annotations

import time

import pytest

from sdnlab import instructor
from sdnlab.labs.loader import labs_root, load_lab


def wait_done(client, job_id: int, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/validations/{job_id}").json()
        if job["state"] != "running" or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def test_an_instructor_validates_a_catalogue_lab_in_a_sandbox_and_polls_the_report(classroom):
    ivy = classroom.login("ivy")
    answer = ivy.post("/api/validations", json={"lab": "static_flows"})
    assert answer.status_code == 202, answer.text
    job = wait_done(ivy, answer.json()["id"])
    assert job["state"] == "done", job
    report = job["report"]
    assert report["ok"] is True, report["problems"]
    assert report["solution_percent"] == 100.0 and report["starter_percent"] < 100.0
    assert report["mode"].startswith("live, in a workspace sandbox (graded statically")
    assert [i["item"] for i in report["items"]][:3] == ["load", "texts", "japanese"]
    assert {i["state"] for i in report["items"]} == {"pass"}
    steps = [s["text"] for s in job["steps"]]
    for step in ("starting a sandbox", "grading the starter", "deploying the reference solution",
                 "grading the reference solution", "stopping the sandbox"):  # fmt: skip
        assert any(s.startswith(step) for s in steps), steps
    assert classroom.backend.sandboxes() == [], "the validation's sandbox is gone"
    listed = ivy.get("/api/validations").json()
    assert [j["id"] for j in listed["jobs"]] == [job["id"]] and listed["jobs"][0]["report"] is None
    assert "static_flows" in [lab["id"] for lab in listed["labs"]]


def test_a_failing_reference_solution_fails_its_item_with_file_and_line(classroom, tmp_path, monkeypatch):
    copy = instructor.copy_lab(labs_root() / "static_flows", tmp_path / "copy")
    s3 = copy.parent / "instructor" / copy.name / "solution" / "flows" / "s3.flows"
    s3.write_text("\n".join(x for x in s3.read_text().splitlines() if "10.0.0.3" not in x) + "\n")
    monkeypatch.setitem(classroom.room.labs, "static_flows", load_lab(copy))
    ivy = classroom.login("ivy")
    job = wait_done(ivy, ivy.post("/api/validations", json={"lab": "static_flows"}).json()["id"])
    items = {i["item"]: i for i in job["report"]["items"]}
    assert job["report"]["ok"] is False and items["solution"]["state"] == "fail"
    assert items["texts"]["state"] == "pass" and items["starter"]["state"] == "pass"
    shown = "\n".join(items["solution"]["problems"])
    assert "solution fails h1-reaches-h3:" in shown and "flows/s3.flows:" in shown, shown
    assert str(tmp_path) not in str(job["report"]), "server folders are cut from the messages"


def user(classroom, name: str):
    from sdnlab.classroom.db import User

    with classroom.room.factory() as db:
        return db.query(User).filter_by(username=name).one()


def test_one_validation_at_a_time_and_its_sandbox_counts_against_the_cap(classroom):
    ivy, ada = classroom.login("ivy"), classroom.login("ada")
    validations = classroom.room.validations
    job = validations.submit("smart_meters", "auto", user(classroom, "ivy"), run=False)  # not yet run
    assert job["state"] == "running" and job["in_sandbox"]
    second = ivy.post("/api/validations", json={"lab": "static_flows"})
    assert second.status_code == 409 and "smart_meters" in second.json()["error"]
    capacity = ada.get("/api/admin/capacity").json()
    assert capacity["validations"] == 1 and capacity["max_sandboxes"] == 3
    ann, ben, oto = classroom.login("ann"), classroom.login("ben"), classroom.login("oto")
    assert ann.post("/api/labs/static_flows/start").status_code == 200
    assert ben.post("/api/labs/static_flows/start").status_code == 200
    full = oto.post("/api/labs/static_flows/start")  # 2 trainees + 1 validation = the cap of 3
    assert full.status_code == 503, full.text
    validations.run(job["id"])
    done = ivy.get(f"/api/validations/{job['id']}").json()
    assert done["state"] == "done" and done["report"]["ok"], done
    assert ada.get("/api/admin/capacity").json()["validations"] == 0
    assert oto.post("/api/labs/static_flows/start").status_code == 200, "the place is free again"
    assert ivy.post("/api/validations", json={"lab": "static_flows", "mode": "static"}).status_code == 202


def test_another_replica_sees_the_job_and_its_report_and_a_restart_keeps_it(classroom, db_url):
    from fastapi.testclient import TestClient

    from sdnlab.classroom import db as cdb
    from sdnlab.classroom.app import create_app

    ivy = classroom.login("ivy")
    job = wait_done(ivy, ivy.post("/api/validations", json={"lab": "static_flows"}).json()["id"])
    other_factory = cdb.open_database(db_url)
    try:
        replica = create_app(other_factory, classroom.backend, classroom.room.settings)
        with TestClient(replica) as second:
            token = second.post("/api/login", json={"username": "ivy", "password": "password-of-ivy"})
            second.headers["X-CSRF-Token"] = token.json()["csrf_token"]
            seen = second.get(f"/api/validations/{job['id']}").json()
            assert seen["state"] == "done" and seen["report"] == job["report"]
            assert [j["id"] for j in second.get("/api/validations").json()["jobs"]] == [job["id"]]
    finally:
        other_factory.kw["bind"].dispose()


def test_a_job_whose_server_died_is_failed_and_its_sandbox_stopped(classroom):
    from sdnlab.classroom.db import LabValidation

    room, backend = classroom.room, classroom.backend
    job = room.validations.submit("static_flows", "auto", user(classroom, "ivy"), run=False)
    with room.factory() as db:
        sandbox = db.get(LabValidation, job["id"]).sandbox
    backend.start(sandbox, "static_flows")  # the job had started its sandbox when its server died
    room.validations._mine.clear()  # as seen from another server process
    assert room.reconcile()["cleaned"] == 0, "a live job's sandbox is kept by a replica's reconcile"
    assert sandbox in backend.sandboxes()
    with room.factory.begin() as db:
        db.get(LabValidation, job["id"]).heartbeat_at = time.time() - 120
    assert room.validations.expire_stale() == [job["id"]]
    failed = classroom.login("ivy").get(f"/api/validations/{job['id']}").json()
    assert failed["state"] == "failed" and "stopped" in failed["error"] and not failed["in_sandbox"]
    assert sandbox not in backend.sandboxes()
    assert room.validations.held() == 0


def test_a_full_host_refuses_a_validation_that_needs_a_sandbox(classroom):
    for name in ("ann", "ben", "oto"):
        assert classroom.login(name).post("/api/labs/static_flows/start").status_code == 200
    ivy = classroom.login("ivy")
    answer = ivy.post("/api/validations", json={"lab": "static_flows"})
    assert answer.status_code == 503 and "sandbox" in answer.json()["error"]
    static = ivy.post("/api/validations", json={"lab": "static_flows", "mode": "static"})
    assert static.status_code == 202, "a static validation needs no sandbox"
    job = wait_done(ivy, static.json()["id"])
    assert job["report"]["mode"] == "static (behaviours only, probes not run)", job
    assert job["report"]["ok"] and not job["in_sandbox"], job


def test_trainees_never_reach_validations_and_bad_requests_are_clear(classroom):
    ivy, ann = classroom.login("ivy"), classroom.login("ann")
    job_id = ivy.post("/api/validations", json={"lab": "static_flows", "mode": "static"}).json()["id"]
    wait_done(ivy, job_id)
    assert ann.get("/api/validations").status_code == 403
    assert ann.get(f"/api/validations/{job_id}").status_code == 403
    assert ann.post("/api/validations", json={"lab": "static_flows"}).status_code == 403
    assert classroom.client().get(f"/api/validations/{job_id}").status_code == 401
    unknown = ivy.post("/api/validations", json={"lab": "no_such_lab"})
    assert unknown.status_code == 404 and "no_such_lab" in unknown.json()["error"]
    mode = ivy.post("/api/validations", json={"lab": "static_flows", "mode": "fast"})
    assert mode.status_code == 400 and "mode 'fast'" in mode.json()["error"]
    assert ivy.get("/api/validations/999").status_code == 404
    assert ivy.post("/api/validations", json={}).status_code == 422


def test_the_drill_down_draws_the_trainees_lab_with_the_paths_of_the_last_check(classroom):
    ann, ivy, oto, ben = (classroom.login(n) for n in ("ann", "ivy", "oto", "ben"))
    session_id = ann.post("/api/labs/static_flows/start").json()["id"]
    before = ivy.get(f"/api/class/sessions/{session_id}/topology").json()
    assert before["attempt"] is None and before["checks"] == []
    ann.post("/api/session/check")
    drawing = ivy.get(f"/api/class/sessions/{session_id}/topology").json()
    assert drawing["state"] == "running" and drawing["attempt"]["kind"] == "check"
    assert [h["name"] for h in drawing["topology"]["hosts"]] == ["h1", "h2", "h3"]
    checks = {c["id"]: c for c in drawing["checks"]}
    [path] = checks["h1-reaches-h3"]["paths"]
    assert (path["src"], path["dst"]) == ("h1", "h3")
    assert path["blame"] == {"switch": "s2", "where": "flows/s2.flows:3"}
    # the trainee's submit: the instructor sees hidden checks (and their paths) too
    ann.post("/api/session/submit")
    drawing = ivy.get(f"/api/class/sessions/{session_id}/topology").json()
    assert drawing["attempt"]["kind"] == "submit" and any(c["hidden"] for c in drawing["checks"])
    # who may look: not a trainee (not even the owner), not another class's instructor
    assert ann.get(f"/api/class/sessions/{session_id}/topology").status_code == 403
    assert ben.get(f"/api/class/sessions/{session_id}/topology").status_code == 403
    assert oto.get(f"/api/class/sessions/{session_id}/topology").status_code == 404  # as an unknown id
    assert classroom.login("ada").get(f"/api/class/sessions/{session_id}/topology").status_code == 200
    # after the lab stopped: the lab's declared topology, the last paths still there
    ann.post("/api/session/stop")
    drawing = ivy.get(f"/api/class/sessions/{session_id}/topology").json()
    assert drawing["state"] == "stopped" and drawing["topology"]["phase"] == "static"
    assert drawing["checks"] and "declared" in drawing["note"]


def test_a_failed_last_write_of_a_job_does_not_block_later_validations(classroom, monkeypatch):
    """The job's final row update raises (a database hiccup): the job still leaves this server's
    list of running jobs (it stayed there: every later validation was 409 until a restart)."""
    validations = classroom.room.validations
    job = validations.submit("static_flows", "static", user(classroom, "ivy"), run=False)
    real = validations._update

    def update(job_id, **fields):
        if "finished_at" in fields:
            raise RuntimeError("the database went away")
        return real(job_id, **fields)

    monkeypatch.setattr(validations, "_update", update)
    with pytest.raises(RuntimeError):
        validations.run(job["id"])
    assert job["id"] not in validations._mine and job["id"] not in validations._threads
