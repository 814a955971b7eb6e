"""A classroom exam on real sandboxes: scheduled for a class, started by a trainee, solved with the
reference of her seed (the instructor's solve path), submitted by the exam clock when her time
ends; the certificate verifies with ``sdnlab cert verify``; the terminal lines she typed are in
the evidence; another trainee reaches neither her attempt nor her certificate; nothing is left.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
import zipfile

import pdfcheck
import pytest
from classroom_client import end_attempt_at, login, terminal, wait_for_agent
from fastapi.testclient import TestClient
from waiting import wait_for

from sdnlab.certification import page
from sdnlab.classroom import accounts
from sdnlab.classroom.app import Settings, create_app
from sdnlab.classroom.db import ExamAttempt, default_url, open_database
from sdnlab.classroom.sandbox import AgentBackend
from sdnlab.runtime import paths

pytestmark = pytest.mark.network


@pytest.fixture
def agent(tmp_path):
    """The privileged agent as its own root process on a Unix socket."""
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sdnlab.classroom.agent", "--state", str(tmp_path / "agent"),
         "--socket", str(sock)],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "agent.log", "w"),  # noqa: SIM115  # the process keeps it open
    )  # fmt: skip
    wait_for_agent(sock, proc, tmp_path / "agent.log")
    backend = AgentBackend(str(sock), timeout=240)
    yield backend
    for sandbox in backend.sandboxes():
        backend.stop(sandbox)
    proc.terminate()
    proc.wait(timeout=30)


def test_a_scheduled_exam_on_real_sandboxes_auto_submitted_with_a_verifiable_certificate(agent, tmp_path):
    factory = open_database(default_url(tmp_path))
    with factory.begin() as db:
        for name, role in (("ann", "trainee"), ("ben", "trainee"), ("ivy", "instructor")):
            accounts.add_user(db, accounts.check_new_user(name, f"password-{name}", role, "c1"))
    prefix = "ex" + secrets.token_hex(2)  # unique among other test runs' labs on this host
    settings = Settings(sandbox_prefix=prefix, max_sandboxes=4, exam_tick_s=0.5, state_dir=tmp_path / "web")
    app = create_app(factory, agent, settings)
    with TestClient(app):
        ann, ben, ivy = login(app, "ann"), login(app, "ben"), login(app, "ivy")
        now = time.time()
        # the window closes before the exam's 20 minutes are over, yet long after her steps below
        # take on a busy host: none of them races the clock; her time is ended once they are done
        window = {"exam": "quick_openflow", "class": "c1", "opens_at": now - 60, "closes_at": now + 600}
        scheduled = ivy.post("/api/exams/scheduled", json=window).json()
        started = ann.post(f"/api/exams/{scheduled['id']}/start")
        assert started.status_code == 200, started.text
        status = started.json()
        assert status["deadline"] == pytest.approx(window["closes_at"]), "a late start ends with the window"
        sandbox = ann.get("/api/session").json()["sandbox"]
        assert sandbox.startswith(prefix) and paths.lab_dir(sandbox).exists(), "task 1 runs in a real lab"
        out = terminal(ann, "ovs-ofctl dump-flows s1 | wc -l")
        assert out and out[0].strip(), out
        assert ben.get(f"/api/exams/attempts/{status['attempt']}").status_code == 403
        assert ivy.post(f"/api/exams/attempts/{status['attempt']}/solve").status_code == 200
        assert ann.post("/api/exam/check").json()["percent"] == 100.0, "the reference of her seed, deployed"

        deadline = time.time()
        end_attempt_at(app.state.room, status["attempt"], deadline)

        def handed_in() -> ExamAttempt | None:  # read where the clock writes: no request of hers submits
            with app.state.room.factory() as db:
                row = db.get(ExamAttempt, status["attempt"])
                return row if row is not None and row.status == "submitted" else None

        # the exam clock submits at its next tick, grading her live network (certificate included)
        row = wait_for(handed_in, 240, "handed in by the exam clock")
        assert row.auto_submitted and row.submitted_at >= deadline, "at her time limit, not before"
        final = ann.get("/api/exam").json()
        assert final["status"] == "submitted" and final["result"]["auto_submitted"], final
        assert final["result"]["passed"] and final["result"]["percent"] == 100.0, final["result"]
        assert ann.put("/api/session/files/flows/s1.flows", json={"content": "x\n"}).status_code == 409

        cert = tmp_path / "certificate.json"
        cert.write_bytes(ann.get(f"/api/me/certificates/{status['attempt']}").content)
        key = tmp_path / "issuer.pub.pem"
        key.write_bytes(ann.get("/api/exams/issuer-key").content)
        bundle = tmp_path / "evidence.zip"
        bundle.write_bytes(ivy.get(f"/api/exams/attempts/{status['attempt']}/evidence").content)
        verified = subprocess.run(
            [sys.executable, "-m", "sdnlab.cli", "cert", "verify", str(cert), "--key", str(key),
             "--evidence", str(bundle), "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "ann" in verified.stdout and "quick_openflow" in verified.stdout
        flows = zipfile.ZipFile(bundle).read("tasks/1-static_flows/tables/s1.flows").decode()
        assert "actions=" in flows, "the flow table dumped from the sandbox's switch"
        history = zipfile.ZipFile(bundle).read("terminal/history.txt").decode()
        assert "ovs-ofctl dump-flows s1 | wc -l" in history
        tables = json.loads(zipfile.ZipFile(bundle).read("attempt.json"))
        assert tables["seed"] == status["seed"] and tables["auto_submitted"]

        assert ben.get(f"/api/me/certificates/{status['attempt']}").status_code == 404
        assert ben.get(f"/api/me/certificates/{status['attempt']}/pdf").status_code == 404
        assert ben.get("/api/me/certificates").json() == {"certificates": []}
        printed = ann.get(f"/api/me/certificates/{status['attempt']}/pdf?lang=ja")
        if page.chromium() is None:
            assert printed.status_code == 503 and "no Chromium" in printed.json()["error"]
        else:
            assert printed.status_code == 200, printed.text
            assert "ann" in pdfcheck.text(printed.content).split()
            assert pdfcheck.embedded_japanese_font(printed.content) is not None
        assert ben.get("/api/exam").status_code == 409
        assert not [s for s in agent.sandboxes() if s.startswith(prefix)], "every task's sandbox is gone"
        assert not paths.lab_dir(sandbox).exists()


def test_an_exam_task_with_a_scored_scenario_is_measured_on_the_trainees_sandbox(agent, tmp_path):
    """iot_security task 2 (iot_dpi) with the reference of her seed: at submit the server sends the
    task's scan scenario with the grade call, the sandbox's agent runs the scan on her network and
    the measurement is scored in the task and kept in the evidence (hashed in the manifest)."""
    factory = open_database(default_url(tmp_path))
    with factory.begin() as db:
        for name, role in (("ann", "trainee"), ("ivy", "instructor")):
            accounts.add_user(db, accounts.check_new_user(name, f"password-{name}", role, "c1"))
    prefix = "sc" + secrets.token_hex(2)
    settings = Settings(sandbox_prefix=prefix, max_sandboxes=4, state_dir=tmp_path / "web")
    app = create_app(factory, agent, settings)
    with TestClient(app):
        ann, ivy = login(app, "ann"), login(app, "ivy")
        now = time.time()
        window = {"exam": "iot_security", "class": "c1", "opens_at": now - 60, "closes_at": now + 900}
        scheduled = ivy.post("/api/exams/scheduled", json=window)
        assert scheduled.status_code == 200, scheduled.text
        status = ann.post(f"/api/exams/{scheduled.json()['id']}/start").json()
        assert ann.post("/api/exam/task", json={"task": 2}).status_code == 200
        assert ann.get("/api/session").json()["lab"] == "iot_dpi"
        assert ivy.post(f"/api/exams/attempts/{status['attempt']}/solve").status_code == 200
        submitted = ann.post("/api/exam/submit")
        assert submitted.status_code == 200, submitted.text

        full = ivy.get(f"/api/exams/attempts/{status['attempt']}").json()
        bundle = tmp_path / "evidence.zip"
        bundle.write_bytes(ivy.get(f"/api/exams/attempts/{status['attempt']}/evidence").content)
    archive = zipfile.ZipFile(bundle)
    report = json.loads(archive.read("tasks/2-iot_dpi/report.json"))
    (item,) = [c for c in report["checks"] if c["id"] == "scored-second-bot"]
    measured = json.loads(archive.read("tasks/2-iot_dpi/measurements.json"))["scored-second-bot"]
    assert measured["value"] is not None and "m3 quarantined" in measured["text"], measured
    assert item["score"] == pytest.approx(measured["credit"] * item["weight"]) and measured["credit"] > 0
    assert "tasks/2-iot_dpi/measurements.json" in archive.read("manifest.json").decode()
    (task2,) = [t for t in full["result"]["tasks"] if t["task"] == 2]
    assert task2["percent"] > 0 and task2["checks_total"] == len(report["checks"]), task2
    assert not [s for s in agent.sandboxes() if s.startswith(prefix)], "every task's sandbox is gone"


def test_cancelling_an_exam_stops_the_sandboxes_of_the_attempts_in_progress(agent, tmp_path):
    """Two trainees on real sandboxes; the instructor cancels: both attempts are closed as
    cancelled, ann's edited file is kept for the record, and no lab of theirs is left on the host."""
    factory = open_database(default_url(tmp_path))
    with factory.begin() as db:
        for name, role in (("ann", "trainee"), ("ben", "trainee"), ("ivy", "instructor")):
            accounts.add_user(db, accounts.check_new_user(name, f"password-{name}", role, "c1"))
    prefix = "xc" + secrets.token_hex(2)
    settings = Settings(sandbox_prefix=prefix, max_sandboxes=4, state_dir=tmp_path / "web")
    app = create_app(factory, agent, settings)
    with TestClient(app):
        ann, ben, ivy = login(app, "ann"), login(app, "ben"), login(app, "ivy")
        now = time.time()
        window = {"exam": "quick_openflow", "class": "c1", "opens_at": now - 60, "closes_at": now + 900}
        scheduled = ivy.post("/api/exams/scheduled", json=window).json()
        attempts = {}
        for name, client in (("ann", ann), ("ben", ben)):
            started = client.post(f"/api/exams/{scheduled['id']}/start")
            assert started.status_code == 200, started.text
            attempts[name] = started.json()["attempt"]
        sandboxes = [client.get("/api/session").json()["sandbox"] for client in (ann, ben)]
        assert all(paths.lab_dir(s).exists() for s in sandboxes)
        edited = ann.put("/api/session/files/flows/s1.flows", json={"content": "# ann's last edit\n"})
        assert edited.status_code == 200, edited.text

        answer = ivy.post(f"/api/exams/scheduled/{scheduled['id']}/cancel")
        assert answer.status_code == 200, answer.text
        assert answer.json()["attempts_cancelled"] == 2
        assert not [s for s in agent.sandboxes() if s.startswith(prefix)], "every attempt's sandbox is gone"
        assert not any(paths.lab_dir(s).exists() for s in sandboxes)
        assert ann.get("/api/exam").json()["status"] == "cancelled"
        detail = ivy.get(f"/api/exams/attempts/{attempts['ann']}").json()
        assert detail["status"] == "cancelled" and "flows/s1.flows" in detail["tasks"][0]["files"]
