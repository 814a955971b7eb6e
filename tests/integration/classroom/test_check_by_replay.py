"""In the classroom, a trainee's Check on lab 2 (a Ryu app) is graded by replay, as ``sdnlab lab check``.

The real ``sdnlab serve`` (root agent, own-OVS sandbox with its inner agent, the web process as
``nobody``) over HTTP: the trainee starts lab 2, checks the starter app (graded by replay, the
same verdicts and percent as the library's replay of the same file; the feedback names the
message sequence that went wrong and the app line that sent the reply, in English and Japanese;
no hidden check appears), submits (graded live, hidden checks counted), then saves and deploys
the reference app: check and submit both give 100%.
"""

from __future__ import annotations

import secrets

import httpx
import pytest
from classroom_client import served

from sdnlab.labs import replay_check
from sdnlab.labs.loader import load_lab

pytestmark = pytest.mark.network
LAB = "l2_learning"


@pytest.fixture(scope="module")
def trainee():
    """A trainee logged in to a real ``sdnlab serve``, with lab 2 started."""
    with (
        served({"rhea": "trainee"}, "rp" + secrets.token_hex(2)) as (url, _state),
        httpx.Client(base_url=url, timeout=240) as client,
    ):
        answer = client.post("/api/login", json={"username": "rhea", "password": "password-rhea"})
        assert answer.status_code == 200, answer.text
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        started = client.post(f"/api/labs/{LAB}/start")
        assert started.status_code == 200, started.text
        yield client
        client.post("/api/session/stop")


def post(client: httpx.Client, path: str) -> dict:
    answer = client.post(path)
    assert answer.status_code == 200, answer.text
    return answer.json()


def verdicts(report: dict) -> dict[str, bool]:
    return {c["id"]: c["passed"] for c in report["checks"]}


def test_check_replays_the_starter_like_the_cli_and_submit_stays_live(trainee):
    lab = load_lab(LAB)
    cli = replay_check.grade_replay(lab, lab.starter_dir).public_dict()  # what `sdnlab lab check` gives

    report = post(trainee, "/api/session/check")
    assert report["mode"] == "replay"
    assert verdicts(report) == verdicts(cli) == {"flows-h1-h4": False, "ping-all": True}
    assert report["percent"] == cli["percent"] == 50.0
    by = report["checked_by"]
    assert by["replay"] and by["text"].startswith("Checked by replay: your app l2_switch.py ran against")
    finding = next(f for f in by["findings"] if f["check"] == "flows-before-second-packet")
    assert finding["title"].startswith("A repeated ping still reached the controller")
    shown = "\n".join(finding["messages"])
    assert "PACKET_IN" in shown and "\n    => PACKET_OUT" in shown and "[l2_switch.py:" in shown, shown
    assert not any(n.startswith(("graded by replay", "replay: ", "  dpid")) for n in report["notes"])
    assert "/work/" not in str(report) and "/tmp/" not in str(report), "no server folder reaches the trainee"

    public = {b.id for b in lab.behaviours} | {p.id for p in lab.probes}
    assert set(verdicts(report)) <= public and report["hidden_checks"] == {"total": 0, "passed": 0}

    ja = post(trainee, "/api/session/check?lang=ja")
    assert ja["checked_by"]["text"].startswith("リプレイで採点しました: アプリ l2_switch.py")
    titles = {f["check"]: f["title"] for f in ja["checked_by"]["findings"]}
    assert titles["flows-before-second-packet"].startswith("2 回目の ping もコントローラーに届きました")
    assert verdicts(ja) == verdicts(report)

    submitted = post(trainee, "/api/session/submit")
    assert submitted["mode"] == "live" and "checked_by" not in submitted
    assert {k: v for k, v in verdicts(submitted).items() if k in public} == verdicts(report)
    assert submitted["hidden_checks"]["total"] > 0  # hidden checks are graded at submit, live


def test_the_reference_saved_and_deployed_passes_check_by_replay_and_submit_live(trainee):
    lab = load_lab(LAB)
    reference = (lab.solution_dir / "l2_switch.py").read_text()
    saved = trainee.put("/api/session/files/l2_switch.py", json={"content": reference})
    assert saved.status_code == 200, saved.text
    assert post(trainee, "/api/session/deploy")

    report = post(trainee, "/api/session/check")
    assert report["mode"] == "replay" and report["checked_by"]["replay"]
    assert report["percent"] == 100.0 and all(verdicts(report).values())
    submitted = post(trainee, "/api/session/submit")
    assert submitted["mode"] == "live" and submitted["percent"] == 100.0
    assert submitted["hidden_checks"]["passed"] == submitted["hidden_checks"]["total"] > 0
