"""The classroom API on a real database and real workspaces: logins, roles, sessions, grading, bad input."""

import threading
import time

import pytest

from sdnlab.classroom.db import LabSession

from .conftest import PASSWORD

SOLUTION_S2 = """priority=100,tcp,nw_src=10.0.0.2,tp_dst=23,actions=drop
priority=90,ip,nw_dst=10.0.0.1,actions=output:2
priority=90,arp,arp_tpa=10.0.0.1,actions=output:2
priority=90,ip,nw_dst=10.0.0.2,actions=output:1
priority=90,arp,arp_tpa=10.0.0.2,actions=output:1
priority=90,ip,nw_dst=10.0.0.3,actions=output:3
priority=90,arp,arp_tpa=10.0.0.3,actions=output:3
priority=0,actions=drop
"""
SOLUTION_S3 = """priority=100,ip,nw_dst=10.0.0.3,actions=output:1
priority=100,arp,arp_tpa=10.0.0.3,actions=output:1
priority=50,in_port=1,actions=output:2
priority=0,actions=drop
"""


def test_login_sets_an_httponly_samesite_cookie_and_answers_a_csrf_token(classroom):
    client = classroom.client()
    answer = client.post("/api/login", json={"username": "ann", "password": "password-of-ann"})
    assert answer.status_code == 200
    assert len(answer.json()["csrf_token"]) >= 32
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/api/me").json()["username"] == "ann"


def test_a_wrong_password_is_401_and_five_failures_lock_the_name_for_a_while(classroom):
    client = classroom.client()
    for _ in range(5):
        answer = client.post("/api/login", json={"username": "ben", "password": "wrong-password"})
        assert answer.status_code == 401
        assert answer.json() == {"error": "wrong user name or password"}
    answer = client.post("/api/login", json={"username": "ben", "password": "password-of-ben"})
    assert answer.status_code == 429
    assert "try again in" in answer.json()["error"]
    assert (
        client.post("/api/login", json={"username": "ann", "password": "password-of-ann"}).status_code == 200
    )


def test_two_server_replicas_on_one_database_share_the_login_limit(classroom, db_url):
    """Guesses spread over two app instances (two engines on one database) still lock the name."""
    from fastapi.testclient import TestClient

    from sdnlab.classroom import db as cdb
    from sdnlab.classroom.app import create_app

    other_factory = cdb.open_database(db_url)
    try:
        replica = create_app(other_factory, classroom.backend, classroom.room.settings)
        with TestClient(replica) as second:
            first = classroom.client()
            for i in range(5):
                client = first if i % 2 else second
                answer = client.post("/api/login", json={"username": "ben", "password": "wrong-password"})
                assert answer.status_code == 401
            for client in (first, second):
                answer = client.post("/api/login", json={"username": "ben", "password": "password-of-ben"})
                assert answer.status_code == 429, "the sixth try is refused on either replica"
    finally:
        other_factory.kw["bind"].dispose()


def test_a_login_needs_one_database_connection_so_a_class_logging_in_at_once_never_starves_the_pool(
    classroom, db_url
):
    """Failed and good logins through an app whose pool has a single connection (the limiter uses
    the request's session: a second one per request exhausted the pool at 20 logins at once)."""
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from sdnlab.classroom import db as cdb
    from sdnlab.classroom.app import create_app

    engine = create_engine(cdb.normalise_url(db_url), pool_size=1, max_overflow=0, pool_timeout=3)
    try:
        app = create_app(
            sessionmaker(engine, expire_on_commit=False), classroom.backend, classroom.room.settings
        )
        with TestClient(app) as client:
            wrong = client.post("/api/login", json={"username": "ben", "password": "wrong-password"})
            good = client.post("/api/login", json={"username": "ann", "password": "password-of-ann"})
            assert (wrong.status_code, good.status_code) == (401, 200)
    finally:
        engine.dispose()


def test_state_changing_requests_without_the_csrf_token_are_refused(classroom):
    client = classroom.login("ann")
    token = client.headers.pop("X-CSRF-Token")
    assert client.post("/api/labs/static_flows/start").status_code == 403
    client.headers["X-CSRF-Token"] = ("y" if token[0] == "x" else "x") + token[1:]  # one character off
    assert client.post("/api/labs/static_flows/start").status_code == 403
    client.headers["X-CSRF-Token"] = token
    assert client.post("/api/labs/static_flows/start").status_code == 200


# every endpoint: the lowest role allowed to call it
ENDPOINTS = [
    ("POST", "/api/logout", "trainee"),
    ("GET", "/api/me", "trainee"),
    ("GET", "/api/labs", "trainee"),
    ("GET", "/api/labs/static_flows", "trainee"),
    ("POST", "/api/labs/static_flows/start", "trainee"),
    ("GET", "/api/session", "trainee"),
    ("GET", "/api/session/files", "trainee"),
    ("GET", "/api/session/files/flows/s1.flows", "trainee"),
    ("PUT", "/api/session/files/flows/s1.flows", "trainee"),
    ("POST", "/api/session/deploy", "trainee"),
    ("POST", "/api/session/check", "trainee"),
    ("POST", "/api/session/hint", "trainee"),
    ("POST", "/api/session/submit", "trainee"),
    ("POST", "/api/session/stop", "trainee"),
    ("GET", "/api/me/results", "trainee"),
    ("GET", "/api/class/results", "instructor"),
    ("GET", "/api/class/sessions", "instructor"),
    ("POST", "/api/class/sessions/999/stop", "instructor"),
    ("POST", "/api/class/sessions/999/reset", "instructor"),
    ("GET", "/api/class/sessions/999", "instructor"),
    ("GET", "/api/class/sessions/999/files/flows/s1.flows", "instructor"),
    ("GET", "/api/class/sessions/999/topology", "instructor"),
    ("GET", "/api/validations", "instructor"),
    ("POST", "/api/validations", "instructor"),
    ("GET", "/api/validations/999", "instructor"),
    ("POST", "/api/classes", "instructor"),
    ("POST", "/api/users", "instructor"),
    ("POST", "/api/users/import", "instructor"),
    ("GET", "/api/users", "admin"),
    ("PATCH", "/api/users/oto", "admin"),
    ("GET", "/api/admin/settings", "admin"),
    ("GET", "/api/admin/capacity", "admin"),
    ("GET", "/api/exams/catalogue", "instructor"),
    ("POST", "/api/exams/scheduled", "instructor"),
    ("GET", "/api/exams/scheduled", "instructor"),
    ("POST", "/api/exams/scheduled/999/cancel", "instructor"),
    ("GET", "/api/exams/scheduled/999/results", "instructor"),
    ("GET", "/api/exams/attempts/999", "instructor"),
    ("GET", "/api/exams/attempts/999/evidence", "instructor"),
    ("POST", "/api/exams/attempts/999/solve", "instructor"),
    ("GET", "/api/exams/issuer-key", "trainee"),
    ("GET", "/api/exams", "trainee"),
    ("POST", "/api/exams/999/start", "trainee"),
    ("GET", "/api/exam", "trainee"),
    ("POST", "/api/exam/task", "trainee"),
    ("POST", "/api/exam/check", "trainee"),
    ("POST", "/api/exam/hint", "trainee"),
    ("POST", "/api/exam/submit", "trainee"),
    ("GET", "/api/me/certificates", "trainee"),
    ("GET", "/api/me/certificates/999", "trainee"),
    ("GET", "/api/me/certificates/999/page", "trainee"),
    ("GET", "/api/me/certificates/999/pdf", "trainee"),
]
ID_NAMES = {  # which path parameter a 999 stands for, by the path's beginning
    "/api/exams/scheduled/": "{scheduled_id}",
    "/api/exams/attempts/": "{attempt_id}",
    "/api/me/certificates/": "{attempt_id}",
    "/api/exams/": "{scheduled_id}",
    "/api/class/sessions/": "{session_id}",
    "/api/validations/": "{job_id}",
}


def _template(path: str) -> str:
    """The OpenAPI path of a concrete one in the table."""
    for prefix, name in ID_NAMES.items():
        if path.startswith(prefix) and "999" in path:
            path = path.replace("999", name)
            break
    return path.replace("static_flows", "{lab_id}")


RANK = {"trainee": 0, "instructor": 1, "admin": 2}
AS = {"trainee": "ann", "instructor": "ivy", "admin": "ada"}
BODIES = {
    "/api/session/files/flows/s1.flows": {"json": {"content": "priority=0,actions=drop\n"}},
    "/api/classes": {"json": {"name": "new-class"}},
    "/api/users": {"json": {"username": "newbie", "password": "longenough"}},
    "/api/users/oto": {"json": {"role": "instructor"}},
    "/api/exams/scheduled": {
        "json": {"exam": "quick_openflow", "class": "c1", "opens_at": 0, "closes_at": 4102444800}
    },
    "/api/exam/task": {"json": {"task": 1}},
    "/api/validations": {"json": {"lab": "static_flows", "mode": "static"}},
    "/api/users/import": {
        "content": "username,password\nnewbie2,longenough\n",
        "headers": {"content-type": "text/csv"},
    },
}


def test_the_endpoint_table_covers_every_api_route(classroom):
    routes = {  # every HTTP endpoint is in the OpenAPI document (the terminal is a WebSocket)
        (method.upper(), path)
        for path, operations in classroom.app.openapi()["paths"].items()
        if path.startswith("/api/")
        for method in operations
    }
    listed = {(m, _template(p)) for m, p, _ in ENDPOINTS}
    listed = {(m, p.replace("flows/s1.flows", "{path}").replace("/oto", "/{username}")) for m, p in listed}
    listed |= {("POST", "/api/login")}
    assert routes == listed


@pytest.mark.parametrize("role", ["anonymous", "trainee", "instructor", "admin"])
def test_every_endpoint_checks_the_callers_role(classroom, role):
    client = classroom.client() if role == "anonymous" else classroom.login(AS[role])
    if role != "anonymous":  # so that session endpoints have a session to act on
        assert client.post("/api/labs/static_flows/start").status_code == 200
    for method, path, lowest in ENDPOINTS:
        if path == "/api/logout":
            continue  # checked last: it ends the login
        answer = client.request(method, path, **BODIES.get(path, {}))
        if role == "anonymous":
            assert answer.status_code == 401, (method, path)
        elif RANK[role] < RANK[lowest]:
            assert answer.status_code == 403, (method, path, answer.text)
        else:
            assert answer.status_code not in (401, 403, 500), (method, path, answer.text)
        assert "error" in answer.json() if answer.status_code >= 400 else True
    expected = 401 if role == "anonymous" else 200
    assert client.post("/api/logout").status_code == expected
    assert client.get("/api/me").status_code == 401


def test_a_trainee_reaches_only_her_own_session_files_and_results(classroom):
    ann, ben = classroom.login("ann"), classroom.login("ben")
    assert ann.post("/api/labs/static_flows/start").status_code == 200
    ann.put("/api/session/files/flows/s3.flows", json={"content": "# ann's secret\n"})
    assert ann.post("/api/session/submit").status_code == 200
    # ben has no session: nothing of ann's is reachable through his
    assert ben.get("/api/session/files").status_code == 409
    assert ben.get("/api/session/files/flows/s3.flows").status_code == 409
    assert ben.get("/api/me/results").json() == {"results": []}
    assert ben.post("/api/class/sessions/1/stop").status_code == 403
    assert ben.get("/api/class/results").status_code == 403
    # with his own session he sees his own starter file, not ann's
    assert ben.post("/api/labs/static_flows/start").status_code == 200
    text = ben.get("/api/session/files/flows/s3.flows").json()["content"]
    assert "ann's secret" not in text and "TODO" in text
    assert [r["user"] for r in ann.get("/api/me/results").json()["results"]] == ["ann"]


def test_an_instructor_follows_only_the_trainees_of_her_classes(classroom):
    ann = classroom.login("ann")
    ann.post("/api/labs/static_flows/start")
    ann.post("/api/session/submit")
    ivy, oto = classroom.login("ivy"), classroom.login("oto")
    assert [r["user"] for r in ivy.get("/api/class/results").json()["results"]] == ["ann"]
    assert oto.get("/api/class/results").json()["results"] == []
    assert oto.get("/api/class/sessions").json()["sessions"] == []
    session_id = ivy.get("/api/class/sessions").json()["sessions"][0]["id"]
    detail = ivy.get(f"/api/class/sessions/{session_id}").json()
    assert detail["user"] == "ann" and [a["kind"] for a in detail["attempts"]] == ["submit"]
    assert any(c["hidden"] for c in detail["last_report"]["checks"]), "instructors see hidden checks"
    assert "TODO" in ivy.get(f"/api/class/sessions/{session_id}/files/flows/s2.flows").json()["content"]
    assert oto.get(f"/api/class/sessions/{session_id}").status_code == 404
    assert oto.get(f"/api/class/sessions/{session_id}/files/flows/s2.flows").status_code == 404
    assert ann.get(f"/api/class/sessions/{session_id}").status_code == 403
    ann.put("/api/session/files/flows/s2.flows", json={"content": "priority=0,actions=drop\n"})
    assert oto.post(f"/api/class/sessions/{session_id}/reset").status_code == 404
    assert ivy.post(f"/api/class/sessions/{session_id}/reset").status_code == 200
    assert "TODO" in ann.get("/api/session/files/flows/s2.flows").json()["content"], "the starter is back"
    assert oto.post(f"/api/class/sessions/{session_id}/stop").status_code == 404
    assert ivy.post(f"/api/class/sessions/{session_id}/stop").status_code == 200
    assert ann.get("/api/session").status_code == 409


def test_a_whole_lab_start_edit_deploy_check_hint_submit_and_the_dashboard(classroom):
    ann = classroom.login("ann")
    started = ann.post("/api/labs/static_flows/start").json()
    assert started["state"] == "running" and started["lab"] == "static_flows"
    names = [f["path"] for f in ann.get("/api/session/files").json()["files"]]
    assert names == ["flows/s1.flows", "flows/s2.flows", "flows/s3.flows"]
    answer = ann.post("/api/session/check")
    from sdnlab.labs.loader import labs_root

    for folder in (classroom.backend.state, labs_root()):
        assert str(folder) not in answer.text, "no server folder in the feedback"
    assert "flows/s2.flows:" in answer.text, "the blamed rule names the workspace file"
    first = answer.json()
    assert first["percent"] < 100 and not first["passed"]
    failing = [c for c in first["checks"] if not c["passed"]]
    assert failing and failing[0]["details"], "a failed check shows its counterexample"
    assert all(not c["hidden"] for c in first["checks"])
    hint = ann.post("/api/session/hint").json()
    assert hint["number"] == 1 and hint["total"] == 3 and hint["text"]["en"]
    ann.put("/api/session/files/flows/s2.flows", json={"content": SOLUTION_S2})
    ann.put("/api/session/files/flows/s3.flows", json={"content": SOLUTION_S3})
    assert ann.post("/api/session/deploy").status_code == 200
    submitted = ann.post("/api/session/submit").json()
    assert submitted["percent"] == 100.0, submitted
    assert submitted["hidden_checks"] == {"total": 3, "passed": 3}
    assert all(not c["hidden"] for c in submitted["checks"])
    ivy = classroom.login("ivy")
    [result] = ivy.get("/api/class/results").json()["results"]
    assert (result["user"], result["lab"], result["percent"], result["hints_used"]) == (
        "ann",
        "static_flows",
        100.0,
        1,
    )
    csv_text = ivy.get("/api/class/results?format=csv").text
    assert csv_text.splitlines()[1].startswith("ann,static_flows,100.0,")
    [row] = ivy.get("/api/class/sessions").json()["sessions"]
    assert (row["user"], row["state"], row["last_percent"], row["hints_used"]) == ("ann", "running", 100.0, 1)
    assert [r["best_percent"] for r in ann.get("/api/labs").json()["labs"] if r["id"] == "static_flows"] == [
        100.0
    ]


def test_the_catalogue_and_lab_page_never_show_hidden_checks_or_solutions(classroom):
    ann = classroom.login("ann")
    text = ann.get("/api/labs").text + ann.get("/api/labs/static_flows").text
    text += ann.get("/api/labs/static_flows?lang=ja").text
    for hidden in ("h2-no-telnet-h1", "replies-reach-h2", "no-loops", "solution/"):
        assert hidden not in text
    page = ann.get("/api/labs/static_flows?lang=ja").json()
    assert page["lang"] == "ja" and "<h1>" in page["task_html"]


@pytest.mark.parametrize(
    "path",
    [
        "../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        "flows/../../x",
        "flows/.hidden",
        "a\\b",
    ],
)
def test_paths_escaping_the_workspace_are_refused(classroom, path):
    ann = classroom.login("ann")
    ann.post("/api/labs/static_flows/start")
    for answer in (
        ann.get(f"/api/session/files/{path}"),
        ann.put(f"/api/session/files/{path}", json={"content": "x"}),
    ):
        assert answer.status_code in (400, 404), (path, answer.status_code)
        assert "root:" not in answer.text
        assert "error" in answer.json()


def test_a_symlink_out_of_the_workspace_is_not_followed(classroom, tmp_path):
    ann = classroom.login("ann")
    sandbox = ann.post("/api/labs/static_flows/start").json()["sandbox"]
    outside = tmp_path / "secret.txt"
    outside.write_text("server secret")
    (classroom.backend.state / "work" / sandbox / "flows" / "link").symlink_to(outside)
    answer = ann.get("/api/session/files/flows/link")
    assert answer.status_code == 400 and "server secret" not in answer.text


def test_bad_input_gets_a_json_4xx_never_a_500(classroom):
    ann = classroom.login("ann")
    bad = ann.post("/api/login", content=b"{not json", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"] == "body: malformed JSON"
    missing = ann.post("/api/login", json={"username": "ann"})
    assert missing.status_code == 422 and "password" in missing.json()["error"]
    huge = ann.post(
        "/api/login", content=b"x" * (2 * 1024 * 1024), headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413 and "larger than" in huge.json()["error"]
    unknown = ann.post("/api/labs/no_such_lab/start")
    assert unknown.status_code == 404 and "no lab" in unknown.json()["error"]
    assert ann.get("/api/nothing/here").status_code == 404
    assert ann.get("/api/labs/static_flows?lang=fr").status_code == 400
    assert ann.post("/api/session/check").status_code == 409
    ann.post("/api/labs/static_flows/start")
    big_file = ann.put("/api/session/files/flows/s1.flows", json={"content": "x" * 300_000})
    assert big_file.status_code == 400
    wrong_type = ann.put("/api/session/files/flows/s1.flows", json={"content": 5})
    assert wrong_type.status_code == 422


def test_one_running_lab_per_trainee_and_a_cap_with_a_class_is_full_answer(classroom):
    clients = [classroom.login(name) for name in ("ann", "ben", "ivy", "ada")]
    assert clients[0].post("/api/labs/static_flows/start").status_code == 200
    again = clients[0].post("/api/labs/static_flows/start")
    assert again.status_code == 409 and "already run lab static_flows" in again.json()["error"]
    assert clients[1].post("/api/labs/static_flows/start").status_code == 200
    assert clients[2].post("/api/labs/static_flows/start").status_code == 200
    full = clients[3].post("/api/labs/static_flows/start")
    assert full.status_code == 503 and full.json()["error"] == "class is full, try again in a few minutes"
    clients[0].post("/api/session/stop")
    assert clients[3].post("/api/labs/static_flows/start").status_code == 200


def test_idle_sandboxes_are_reclaimed_after_the_time_to_live(classroom):
    ann = classroom.login("ann")
    sandbox = ann.post("/api/labs/static_flows/start").json()["sandbox"]
    room = classroom.room
    assert room.reclaim_idle(now=time.time() + 60) == []
    assert room.reclaim_idle(now=time.time() + room.settings.idle_ttl_s + 1) == [sandbox]
    assert classroom.backend.sandboxes() == []
    with room.factory() as db:
        assert db.query(LabSession).one().state == "reclaimed"
    assert ann.get("/api/session").status_code == 409


def test_a_restart_keeps_accounts_and_results_reattaches_running_sandboxes_and_cleans_strays(classroom):
    from sdnlab.classroom.app import create_app

    ann, ben = classroom.login("ann"), classroom.login("ben")
    ann_box = ann.post("/api/labs/static_flows/start").json()["sandbox"]
    ann.post("/api/session/submit")
    ben_box = ben.post("/api/labs/static_flows/start").json()["sandbox"]
    classroom.backend.stop(ben_box)  # died while the server was down
    classroom.backend.start("ut-stray", "static_flows")  # left over, unknown to the database
    room2 = create_app(classroom.room.factory, classroom.backend, classroom.room.settings).state.room
    assert room2.reconcile() == {"reattached": 1, "lost": 1, "cleaned": 1}
    assert classroom.backend.sandboxes() == [ann_box]
    assert len(ann.get("/api/me/results").json()["results"]) == 1


def test_twenty_logins_at_once_and_two_checks_at_once_all_succeed(classroom):
    answers = []

    def log_in():
        client = classroom.client()
        answers.append(
            client.post("/api/login", json={"username": "ann", "password": "password-of-ann"}).status_code
        )

    threads = [threading.Thread(target=log_in) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 20
    ann = classroom.login("ann")
    ann.post("/api/labs/static_flows/start")
    checks = []
    threads = [
        threading.Thread(target=lambda: checks.append(ann.post("/api/session/check").json()))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [c["percent"] for c in checks] == [checks[0]["percent"]] * 2


def test_operations_endpoints_openapi_health_and_metrics(classroom):
    spec = classroom.base.get("/api/openapi.json").json()
    for path in ("/api/login", "/api/labs/{lab_id}/start", "/api/session/files/{path}", "/api/class/results"):
        assert path in spec["paths"]
    assert classroom.base.get("/healthz").json() == {"status": "ok", "backend": "workspace"}
    ann = classroom.login("ann")
    ann.post("/api/labs/static_flows/start")
    ann.post("/api/session/check")
    text = classroom.base.get("/metrics").text
    assert 'classroom_logins_total{outcome="ok"} 1.0' in text
    assert "classroom_lab_start_seconds_count 1.0" in text
    assert 'classroom_check_seconds_count{kind="check"} 1.0' in text
    assert "classroom_sessions_running 1.0" in text


def test_instructors_create_classes_and_import_trainees_but_not_instructors(classroom):
    ivy = classroom.login("ivy")
    assert ivy.post("/api/classes", json={"name": "autumn"}).status_code == 201
    assert ivy.post("/api/classes", json={"name": "autumn"}).status_code == 409
    csv_text = "username,password,class\ncarl,longenough,autumn\ndora,longenough,autumn\n"
    answer = ivy.post("/api/users/import", content=csv_text, headers={"content-type": "text/csv"})
    assert answer.status_code == 201 and answer.json() == {"created": ["carl", "dora"]}
    promote = ivy.post("/api/users", json={"username": "eve", "password": "longenough", "role": "admin"})
    assert promote.status_code == 403
    bad = ivy.post(
        "/api/users/import", content="username,password\nBAD,x\n", headers={"content-type": "text/csv"}
    )
    assert bad.status_code == 400 and "line 2" in bad.json()["error"]
    carl = classroom.client()
    assert carl.post("/api/login", json={"username": "carl", "password": "longenough"}).status_code == 200
    assert carl.get("/api/me").json()["classes"] == ["autumn"]
    assert [r["user"] for r in ivy.get("/api/class/sessions").json()["sessions"]] == []


def test_admins_change_roles_and_disable_accounts_and_a_disabled_login_stops_working(classroom):
    ben, ada = classroom.login("ben"), classroom.login("ada")
    assert ben.get("/api/me").status_code == 200
    answer = ada.patch("/api/users/ben", json={"disabled": True})
    assert answer.status_code == 200 and answer.json()["disabled"] is True
    assert ben.get("/api/me").status_code == 401
    assert ada.patch("/api/users/ann", json={"role": "instructor"}).json()["role"] == "instructor"
    assert ada.patch("/api/users/ann", json={"role": "root"}).status_code == 400
    assert ada.patch("/api/users/nobody", json={"role": "trainee"}).status_code == 404
    assert ada.patch("/api/users/ada", json={"disabled": True}).status_code == 409
    assert classroom.login("ann").get("/api/class/sessions").status_code == 200


def test_the_backend_is_told_whose_sandbox_it_starts(classroom, monkeypatch):
    """Container and pod backends label sandboxes with class, trainee and session."""
    calls = []
    start = classroom.backend.start

    def recording_start(sandbox, lab_id, **owner):
        calls.append(owner)
        return start(sandbox, lab_id, **owner)

    monkeypatch.setattr(classroom.backend, "start", recording_start)
    ben = classroom.login("ben")
    started = ben.post("/api/labs/static_flows/start")
    assert started.status_code == 200, started.text
    assert calls == [{"class_name": "c1", "trainee": "ben", "session": str(started.json()["id"])}]


def test_admins_list_every_account_with_its_role_and_disabled_state(classroom):
    ada = classroom.login("ada")
    ada.patch("/api/users/ben", json={"disabled": True})
    users = {u["username"]: u for u in ada.get("/api/users").json()["users"]}
    assert set(users) == {"ada", "ann", "ben", "ivy", "oto"}
    assert (users["ben"]["role"], users["ben"]["disabled"]) == ("trainee", True)
    assert (users["ivy"]["role"], users["ivy"]["disabled"]) == ("instructor", False)
    assert all("password" not in str(u) for u in users.values())


def test_admins_see_the_running_settings_without_secrets(classroom):
    extra = classroom.room.settings.extra
    extra.update(oidc={"client_id": "x", "client_secret": "s3cr3t"}, api_token="t0k3n")
    answer = classroom.login("ada").get("/api/admin/settings")
    assert answer.status_code == 200
    data = answer.json()
    assert data["settings"]["max_sandboxes"] == 3 and data["settings"]["sandbox_prefix"] == "ut"
    assert data["backend"] == "workspace" and "static_flows" in data["labs"]
    assert data["settings"]["extra"]["oidc"] == {"client_id": "x", "client_secret": "********"}
    assert data["settings"]["extra"]["api_token"] == "********"
    assert "s3cr3t" not in answer.text and "t0k3n" not in answer.text


def test_the_database_url_is_shown_without_its_password():
    from sqlalchemy.engine import make_url

    from sdnlab.classroom.routes.admin import masked

    url = make_url("postgresql://classroom:hunter2@db.example:5432/sdnlab")
    assert "hunter2" not in url.render_as_string(hide_password=True)
    assert masked({"db_password": "x", "nested": {"private_key": "y", "port": 5}}) == {
        "db_password": "********",
        "nested": {"private_key": "********", "port": 5},
    }


def test_admins_see_capacity_running_sandboxes_cost_and_host_load(classroom):
    ann, ben, ada = classroom.login("ann"), classroom.login("ben"), classroom.login("ada")
    assert ann.post("/api/labs/static_flows/start").status_code == 200
    assert ben.post("/api/labs/smart_meters/start").status_code == 200
    data = ada.get("/api/admin/capacity").json()
    assert data["running"] == 2 and data["max_sandboxes"] == 3
    assert data["by_lab"] == {"static_flows": 1, "smart_meters": 1}
    assert data["per_sandbox"]["budget_mib"] > 0
    assert data["host"]["cpus"] >= 1 and len(data["host"]["load"]) == 3
    assert 0 < data["host"]["mem_available_mib"] <= data["host"]["mem_total_mib"]
    ben.post("/api/session/stop")
    assert ada.get("/api/admin/capacity").json()["running"] == 1


def test_the_session_answers_the_labs_topology_with_links_ports_and_state(classroom):
    ann = classroom.login("ann")
    ann.post("/api/labs/static_flows/start")
    answer = ann.get("/api/session")
    topology = answer.json()["status"]["topology"]
    assert [h["name"] for h in topology["hosts"]] == ["h1", "h2", "h3"]
    assert topology["hosts"][0]["ip"] == "10.0.0.1"
    assert [s["name"] for s in topology["switches"]] == ["s1", "s2", "s3"]
    assert all(s["connected"] is False for s in topology["switches"]), "the workspace backend runs no network"
    assert {"a": "h1", "b": "s1", "a_port": 0, "b_port": 1, "up": True} in topology["links"]
    assert all({"a", "b", "a_port", "b_port", "up"} <= set(link) for link in topology["links"])
    for secret in ("pid", "solution", "hidden", "h2-no-telnet-h1"):
        assert secret not in answer.text


def test_a_failed_check_carries_the_counterexamples_path_to_draw(classroom):
    ann = classroom.login("ann")
    ann.post("/api/labs/static_flows/start")
    checks = {c["id"]: c for c in ann.post("/api/session/check").json()["checks"]}
    [path] = checks["h1-reaches-h3"]["paths"]
    assert (path["src"], path["dst"]) == ("h1", "h3")
    assert path["hops"] == [
        {"switch": "s1", "in_port": 1, "out_port": 2},
        {"switch": "s2", "in_port": 2, "out_port": None},
    ]
    assert path["outcome"].startswith("dropped")
    assert path["blame"] == {"switch": "s2", "where": "flows/s2.flows:3"}, "no server folder in the path"
    assert all(not c["paths"] for c in checks.values() if c["passed"])


def test_the_lab_pages_refresh_reads_the_session_without_counting_as_activity(classroom):
    ann = classroom.login("ann")
    ann.post("/api/labs/static_flows/start")
    with classroom.room.factory.begin() as db:
        row = db.query(LabSession).one()
        row.last_active_at = 1000.0
    assert ann.get("/api/session?touch=false").status_code == 200
    with classroom.room.factory() as db:
        assert db.query(LabSession).one().last_active_at == 1000.0, "an open tab keeps no sandbox alive"
    ann.get("/api/session")
    with classroom.room.factory() as db:
        assert db.query(LabSession).one().last_active_at > 1000.0


def test_a_running_labs_topology_shows_link_and_switch_state_but_no_pids():
    from sdnlab.classroom.runner import public_topology

    state = {
        "phase": "ready",
        "controller": {"mode": "builtin", "port": 6653, "pid": 42},
        "hosts": [{"name": "h1", "ip": "10.0.0.1", "mac": "00:00:0a:00:00:01", "pid": 4242, "role": "host"}],
        "switches": [{"name": "s1", "bridge": "l3s1", "dpid": "1", "connected": True}],
        "links": [
            {"a": "h1", "b": "s1", "a_port": 0, "b_port": 1, "bw_mbit": None},
            {"a": "s1", "b": "s2", "a_port": 2, "b_port": 1},
        ],
        "links_down": [["s2", "s1"]],
    }
    topology = public_topology(state)
    assert topology == {
        "phase": "ready",
        "controller": "builtin",
        "hosts": [{"name": "h1", "ip": "10.0.0.1", "mac": "00:00:0a:00:00:01", "role": "host"}],
        "switches": [{"name": "s1", "connected": True}],
        "links": [
            {"a": "h1", "b": "s1", "a_port": 0, "b_port": 1, "up": True},
            {"a": "s1", "b": "s2", "a_port": 2, "b_port": 1, "up": False},
        ],
    }


def test_a_lab_start_or_a_check_in_progress_holds_no_database_connection(classroom, db_url, tmp_path):
    """With a one-connection pool, other requests are served while a start and a check take their
    time (twenty starts each holding a connection exhausted the pool: HTTP 500 in bench/classroom)."""
    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from sdnlab.classroom import db as cdb
    from sdnlab.classroom.app import create_app
    from sdnlab.classroom.runner import LocalRunner

    class SlowRunner(LocalRunner):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.busy, self.go = threading.Event(), threading.Event()

        def start(self, *args, **kwargs):
            self.busy.set()
            assert self.go.wait(30)
            return super().start(*args, **kwargs)

        def grade(self, *args, **kwargs):
            self.busy.set()
            assert self.go.wait(30)
            return super().grade(*args, **kwargs)

    backend = SlowRunner(tmp_path / "slow", network=False)
    engine = create_engine(cdb.normalise_url(db_url), pool_size=1, max_overflow=0, pool_timeout=3)
    try:
        app = create_app(sessionmaker(engine, expire_on_commit=False), backend, classroom.room.settings)
        with TestClient(app) as base:
            ann, ben = (TestClient(app) for _ in range(2))
            for client, name in ((ann, "ann"), (ben, "ben")):
                answer = client.post("/api/login", json={"username": name, "password": PASSWORD + name})
                client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
            for request in (
                lambda: ann.post("/api/labs/static_flows/start"),
                lambda: ann.post("/api/session/check"),
            ):
                backend.busy.clear()
                backend.go.clear()
                answers = []
                slow = threading.Thread(target=lambda request=request, out=answers: out.append(request()))
                slow.start()
                assert backend.busy.wait(30)
                assert ben.get("/api/labs").status_code == 200, "served while ann's request waits on the lab"
                backend.go.set()
                slow.join(30)
                assert answers[0].status_code == 200, answers[0].text
            assert base.get("/healthz").status_code == 200
    finally:
        engine.dispose()
