"""The agent's narrow API over a real Unix socket: operations, argument checks, peer credentials."""

import os
import threading

import pytest

from sdnlab.classroom.agent import AgentServer, parse_request
from sdnlab.classroom.errors import ClassroomError, Conflict, NotFound
from sdnlab.classroom.runner import LocalRunner
from sdnlab.classroom.sandbox import AgentBackend, workspace_path


@pytest.fixture
def agent(tmp_path):
    path = str(tmp_path / "agent.sock")
    server = AgentServer(path, LocalRunner(tmp_path / "state", network=False), {os.geteuid()})
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield AgentBackend(path, timeout=30)
    server.shutdown()
    server.server_close()


def test_the_agent_runs_a_sandbox_through_its_socket(agent):
    status = agent.start("ag1", "static_flows")
    assert (status["lab"], status["state"]) == ("static_flows", "ready")
    assert agent.sandboxes() == ["ag1"]
    assert agent.list_files("ag1")[0]["path"] == "flows/s1.flows"
    agent.write_file("ag1", "flows/s3.flows", "priority=0,actions=drop\n")
    assert agent.read_file("ag1", "flows/s3.flows") == "priority=0,actions=drop\n"
    agent.reset("ag1")
    assert "TODO" in agent.read_file("ag1", "flows/s3.flows")
    report = agent.grade("ag1", include_hidden=True)
    assert any(c["hidden"] for c in report["checks"])
    agent.stop("ag1")
    assert agent.sandboxes() == []


def test_agent_errors_come_back_as_the_same_error_classes(agent):
    with pytest.raises(NotFound):
        agent.status("nosuch")
    agent.start("ag2", "static_flows")
    with pytest.raises(Conflict):
        agent.start("ag2", "static_flows")
    with pytest.raises(ClassroomError, match="relative path"):
        agent.read_file("ag2", "../../etc/passwd")
    with pytest.raises(NotFound, match="no lab"):
        agent.start("ag3", "no_such_lab")
    with pytest.raises(ClassroomError, match="use 1-24 lowercase"):
        agent.start("../x", "static_flows")
    agent.stop("ag2")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"not json", "not JSON"),
        (b'{"op": "exec", "cmd": "sh"}', "unknown operation 'exec'"),
        (b'{"op": "grade", "sandbox": "a"}', "'include_hidden' missing"),
        (b'{"op": "start", "sandbox": 5, "lab": "x"}', "'sandbox' missing or not a str"),
    ],
)
def test_the_agent_accepts_only_its_operations_with_typed_arguments(line, problem):
    with pytest.raises(ClassroomError, match=problem):
        parse_request(line)


def test_the_agent_refuses_users_it_does_not_serve(tmp_path, monkeypatch):
    path = str(tmp_path / "agent.sock")
    server = AgentServer(path, LocalRunner(tmp_path / "state", network=False), {12345})
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    # root (this test) is always served: the peer check is replaced to see a stranger's uid
    monkeypatch.setattr("sdnlab.classroom.agent.peer_uid", lambda _sock: 4242)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with pytest.raises(ClassroomError, match="not allowed"):
            AgentBackend(path, timeout=10).sandboxes()
    finally:
        server.shutdown()
        server.server_close()


def test_workspace_paths_are_normalised_or_refused():
    assert workspace_path("flows/s1.flows") == "flows/s1.flows"
    assert workspace_path("flows//s1.flows") == "flows/s1.flows"
    for bad in ("", "/etc/passwd", "../x", "a/../../b", ".ssh/id", "a\x00b", "x" * 300):
        with pytest.raises(ClassroomError):
            workspace_path(bad)


def test_an_agent_that_cannot_be_reached_is_a_sandbox_error_not_a_crash(tmp_path):
    """Any socket failure (a full backlog's EAGAIN, a bad path) becomes a 502 with a reason, never a 500."""
    from sdnlab.classroom.errors import SandboxError
    from sdnlab.classroom.sandbox import AgentBackend

    backend = AgentBackend(str(tmp_path / ("x" * 200)), timeout=2)  # too long for AF_UNIX: OSError
    with pytest.raises(SandboxError, match="agent"):
        backend.status("cr1")


def test_the_agent_keeps_a_class_sized_backlog():
    from sdnlab.classroom.agent import AgentServer

    assert AgentServer.request_queue_size >= 64


def test_a_sandbox_without_instructor_data_grades_the_hidden_checks_the_server_sends(
    agent, tmp_path, monkeypatch
):
    """The sandbox side has no instructor/ (as in the container image); the server's hidden.yaml
    text travels with the submit's grade call, and a check without it stays public-only."""
    from sdnlab import instructor
    from sdnlab.classroom.views import hidden_checks

    sent = hidden_checks("static_flows", "submit")  # read where the server has the data (this checkout)
    assert sent is not None and "h2-no-telnet-h1" in sent
    assert hidden_checks("static_flows", "check") is None
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv(instructor.ENV, str(tmp_path / "empty"))  # the sandbox: no instructor data
    assert hidden_checks("static_flows", "submit") is None
    agent.start("ag2", "static_flows")
    alone = agent.grade("ag2", include_hidden=True)
    assert not any(c["hidden"] for c in alone["checks"])
    assert any(instructor.NOT_AVAILABLE in n for n in alone["notes"])
    report = agent.grade("ag2", include_hidden=True, hidden=sent)
    hidden = {c["id"] for c in report["checks"] if c["hidden"]}
    assert hidden == {"h2-no-telnet-h1", "replies-reach-h2", "no-loops"}
    assert not any(instructor.NOT_AVAILABLE in n for n in report["notes"])
    with pytest.raises(ClassroomError, match=r"hidden\.yaml:2: "):
        agent.grade("ag2", include_hidden=True, hidden="behaviours:\n  - {id: x, reach: {src: h9}}\n")
    agent.stop("ag2")


def test_the_agent_refuses_hidden_checks_that_are_not_text():
    with pytest.raises(ClassroomError, match="'hidden' must be a text or null"):
        parse_request(b'{"op": "grade", "sandbox": "a", "include_hidden": true, "hidden": 3}')


def test_check_and_submit_reports_in_japanese_carry_the_japanese_descriptions():
    from sdnlab.classroom.views import public_report

    full = {
        "checks": [
            {
                "id": "a",
                "description": "h1 reaches h3",
                "description_ja": "h1 から h3 に届く",
                "hidden": False,
            }
        ]
    }
    assert public_report(full, "ja")["checks"][0]["description"] == "h1 から h3 に届く"
    assert public_report(full, "en")["checks"][0]["description"] == "h1 reaches h3"


SCAN = {
    "id": "scored-second-bot",
    "description": "a second bot scans",
    "scan_quarantine": {"src": "m3", "targets": ["cam1", "m1"], "port": 23, "timeout": 15},
    "bands": [{"max": 3000, "credit": 1.0}],
    "weight": 2,
}


def _grade_line(scenarios) -> bytes:
    import json

    request = {"op": "grade", "sandbox": "a", "include_hidden": True, "scenarios": scenarios}
    return json.dumps(request).encode()


def test_the_agent_accepts_registered_scenarios_with_their_validated_arguments():
    from sdnlab.certification.scenarios import parse, to_raw
    from sdnlab.classroom.sandbox import scenario_definitions

    _op, args = parse_request(_grade_line([SCAN]))
    assert args["scenarios"] == [SCAN]
    (scenario,) = scenario_definitions(args["scenarios"])
    assert (scenario.kind, scenario.args["targets"], scenario.weight) == (
        "scan_quarantine",
        ["cam1", "m1"],
        2.0,
    )
    assert parse(to_raw(scenario), "x", None) == scenario, "what the server sends reads back the same"
    assert "scenarios" not in parse_request(_grade_line(None))[1]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"shell": {"cmd": "rm -rf /"}, "scan_quarantine": None}, r"expected exactly one of failover_loss"),
        (
            {"scan_quarantine": {"src": "m3", "targets": ["m1"], "cmd": "sh"}},
            r"scan_quarantine\.cmd: unknown argument",
        ),
        (
            {"scan_quarantine": {"src": "m3; reboot", "targets": ["m1"]}},
            r"scan_quarantine\.src: expected names",
        ),
        (
            {"scan_quarantine": {"src": "m3", "targets": ["$(id)"]}},
            r"scan_quarantine\.targets: expected names",
        ),
        (
            {"scan_quarantine": {"src": "m3", "targets": ["m1"], "port": "23"}},
            r"port: expected a whole number",
        ),
        ({"scan_quarantine": {"src": "m3", "targets": ["m1"], "timeout": 1e9}}, r"timeout: expected seconds"),
        ({"scan_quarantine": {"src": "{{bot}}", "targets": ["m1"]}}, r"src: expected names"),
        ({"bands": [{"min": 3, "credit": 1}]}, r"bands\[0\]: expected \{max"),
    ],
)
def test_the_agent_refuses_unknown_scenario_kinds_and_bad_arguments(change, problem):
    scenario = {k: v for k, v in {**SCAN, **change}.items() if v is not None}
    with pytest.raises(ClassroomError, match=problem):
        parse_request(_grade_line([scenario]))


def test_the_agent_refuses_scenarios_that_are_not_a_short_list():
    with pytest.raises(ClassroomError, match="expected a list of at most"):
        parse_request(_grade_line({"id": "x"}))
    with pytest.raises(ClassroomError, match="expected a list of at most"):
        parse_request(_grade_line([SCAN] * 17))


def test_a_sandbox_without_a_network_scores_the_scenarios_it_cannot_measure_zero(agent):
    agent.start("ag4", "static_flows")
    report = agent.grade("ag4", include_hidden=False, scenarios=[SCAN, {**SCAN, "id": "h", "hidden": True}])
    (item,) = [c for c in report["checks"] if c["id"] == "scored-second-bot"]
    assert (item["score"], item["weight"]) == (0.0, 2.0) and "no network" in item["details"][0]
    assert report["measurements"] == {
        "scored-second-bot": {"value": None, "text": item["details"][0], "credit": 0.0}
    }, "hidden scenarios are measured only when hidden checks are asked for"
    with pytest.raises(ClassroomError, match="unknown argument"):
        agent.grade("ag4", include_hidden=True, scenarios=[{**SCAN, "scan_quarantine": {"exec": "sh"}}])
    agent.stop("ag4")
