"""Recovery never makes things worse (issue 11 items 12-17), without a network.

Reset checks the workspace before the running lab is touched and brings a downed network back;
reset --starter keeps a backup; corrupt state has a way out; a lab started from a folder stays
found; hints belong to the trainee across sessions; topology port names work in any slot.
"""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from sdnlab.cli import root
from sdnlab.labs import live, load_lab, session, workspace
from sdnlab.labs.errors import LabSessionError
from sdnlab.labs.progress import ProgressStore

runner = CliRunner()


@pytest.fixture
def deployed(monkeypatch):
    """Network calls recorded, not made: (what, lab id, source) per call."""
    calls = []
    monkeypatch.setattr(live, "up", lambda lab, src, name: calls.append(("up", lab.id, str(src))) or {})
    monkeypatch.setattr(
        live, "deploy", lambda lab, src, name, status: calls.append(("deploy", lab.id, str(src)))
    )
    monkeypatch.setattr(session, "network_up", lambda name: True)
    from sdnlab.runtime import api

    monkeypatch.setattr(api, "status", lambda name: {"switches": []})
    monkeypatch.setattr(api, "down", lambda name: calls.append(("down", name, "")) or {})
    monkeypatch.setattr(api, "exclusive", _no_lock)
    return calls


class _no_lock:
    def __init__(self, name, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _session(lab_id: str, workdir, name: str = "lab-r1") -> session.Session:
    lab = load_lab(lab_id)
    shutil.copytree(lab.starter_dir, workdir)
    record = session.Session(name, lab.id, str(workdir), 0.0, lab_path=str(lab.path))
    session._save(record)
    return record


def test_a_reset_with_a_broken_app_leaves_the_running_lab_alone(deployed, tmp_path):
    _session("l2_learning", tmp_path / "w")
    (tmp_path / "w" / "l2_switch.py").write_text("def broken(:\n")
    with pytest.raises(LabSessionError, match=r"l2_switch.py:1: syntax error"):
        session.reset("lab-r1")
    assert deployed == []  # the network was not taken down


def test_a_reset_with_a_bad_flow_file_leaves_the_running_lab_alone(deployed, tmp_path):
    _session("static_flows", tmp_path / "w")
    (tmp_path / "w" / "flows" / "s2.flows").write_text("priority=x,actions=drop\n")
    with pytest.raises(LabSessionError, match=r"s2.flows:1: invalid priority"):
        session.reset("lab-r1")
    assert deployed == []


def test_a_reset_brings_a_downed_network_back(deployed, tmp_path, monkeypatch):
    _session("static_flows", tmp_path / "w")
    monkeypatch.setattr(session, "network_up", lambda name: False)
    session.reset("lab-r1")
    assert ("up", "static_flows", str(tmp_path / "w")) in deployed


def test_reset_to_the_starter_keeps_a_timestamped_backup_and_says_where(deployed, tmp_path):
    _session("static_flows", tmp_path / "w")
    (tmp_path / "w" / "flows" / "s2.flows").write_text("# my work\npriority=0,actions=drop\n")
    result = runner.invoke(root, ["lab", "reset", "--starter", "--name", "lab-r1"])
    assert result.exit_code == 0, result.output
    backups = sorted(tmp_path.glob("w.backup-*"))
    assert len(backups) == 1 and "# my work" in (backups[0] / "flows" / "s2.flows").read_text()
    assert f"kept in {backups[0]}" in result.output
    assert "# my work" not in (tmp_path / "w" / "flows" / "s2.flows").read_text()


def test_a_corrupt_session_file_is_reported_with_a_way_out_that_works(tmp_path):
    path = session.sessions_dir() / "lab-r2.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(session.CorruptSession, match="`sdnlab lab stop --name lab-r2` removes it"):
        session.describe("lab-r2")
    stop = runner.invoke(root, ["lab", "stop", "--name", "lab-r2"])
    assert stop.exit_code == 0, stop.output
    assert not path.exists()


def test_a_corrupt_progress_file_still_lets_the_catalogue_list(tmp_path):
    store = ProgressStore()
    store.home.mkdir(parents=True, exist_ok=True)
    store.path.write_text("[1, 2")
    result = runner.invoke(root, ["lab", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert "progress.json" in result.output  # the warning names the file
    assert "static_flows" in result.output


def test_a_lab_started_from_a_folder_is_found_again(deployed, tmp_path, lab_copy):
    folder = lab_copy("static_flows").rename(tmp_path / "my_own_lab")
    text = (folder / "lab.yaml").read_text().replace("id: static_flows", "id: my_own_lab")
    (folder / "lab.yaml").write_text(text.replace("number: 1\n", "number: 77\n"))
    lab = load_lab(folder)
    session.start(lab, "lab-r3", tmp_path / "w")
    assert session.current("lab-r3").load().id == "my_own_lab"
    assert session.describe("lab-r3")["lab"] == "my_own_lab"


def test_hints_seen_stay_with_the_trainee_in_a_new_session(deployed, tmp_path):
    lab = load_lab("static_flows")
    session.start(lab, "lab-r4", tmp_path / "w")
    session.hint("lab-r4")
    session.hint("lab-r4")
    session.stop("lab-r4")
    again, _ = session.start(lab, "lab-r4", tmp_path / "w")
    assert again.hints_used == 2
    assert session.hint("lab-r4")[0] == 3


def test_named_sessions_get_their_own_workspace_and_sharing_is_said(deployed, tmp_path):
    lab = load_lab("static_flows")
    first, _ = session.start(lab)
    assert first.workdir.endswith("work/static_flows")
    second, _ = session.start(lab, "lab-r5")  # the lab's workspace is taken: a copy of its own
    assert first.workdir != second.workdir and second.workdir.endswith("static_flows-lab-r5")
    _, status = session.start(lab, "lab-r6", first.workdir)
    assert status["shared_workspace_with"] == [session.DEFAULT_NAME]


def test_topology_port_names_are_translated_for_a_prefixed_bridge():
    text = "in_port=dc1-eth1,actions=output:dc1-eth10\nin_port=xdc1-eth1,actions=drop\n"
    assert workspace.translate_ports(text, "dc1", "l12dc1") == (
        "in_port=l12dc1-eth1,actions=output:l12dc1-eth10\nin_port=xdc1-eth1,actions=drop\n"
    )
    assert workspace.translate_ports(text, "dc1", "dc1") == text


def test_a_workspace_with_topology_port_names_is_valid_offline(tmp_path):
    lab = load_lab("static_flows")
    shutil.copytree(lab.solution_dir, tmp_path / "w")
    flows = tmp_path / "w" / "flows" / "s2.flows"
    flows.write_text(flows.read_text().replace("in_port=1,", "in_port=s2-eth1,"))
    assert "s2-eth1" in flows.read_text()
    workspace.check_offline(tmp_path / "w", live.load_topology(lab))
    bad = json.dumps("x")  # an unknown name is still an error
    flows.write_text(f"in_port=s9-eth1,actions=drop\n# {bad}\n")
    with pytest.raises(LabSessionError, match=r"s2\.flows"):
        workspace.check_offline(tmp_path / "w", live.load_topology(lab))


def test_check_feedback_names_the_line_where_the_trainees_app_raised(tmp_path, monkeypatch):
    from sdnlab.labs import grading, replay_check
    from sdnlab.labs.results import CheckItem, LabResult
    from sdnlab.runtime import api

    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setattr(api, "exclusive", _no_lock)
    item = CheckItem("ping-all", "behaviour", "ping all", 1.0, 0.0, False, 12, 0)
    monkeypatch.setattr(
        grading, "grade_live", lambda lab, name, **kw: LabResult(lab.id, (item,), "live", 0.1, "t")
    )
    monkeypatch.setattr(  # lab 2 is checked by replay: what the running app raised is still reported
        replay_check,
        "grade_replay",
        lambda lab, workdir, **kw: LabResult(lab.id, (item,), "replay", 0.1, "t"),
    )
    _session("l2_learning", tmp_path / "w", name="lab-r7")
    lab_dir = tmp_path / "run" / "lab-r7"
    lab_dir.mkdir(parents=True)
    record = {
        "time": 4e9,
        "kind": "exception",
        "handler": "packet_in",
        "exc_type": "AttributeError",
        "message": "boom",
        "file": str(tmp_path / "w" / "l2_switch.py"),
        "line": 58,
        "count": 12,
    }
    (lab_dir / "app-errors.jsonl").write_text(json.dumps(record) + "\n")
    result = session.check("lab-r7")
    assert "your app raised AttributeError at l2_switch.py:58 in packet_in (12 times): boom" in result.notes
    assert any("sdnlab lab logs --name lab-r7" in note for note in result.notes)
    (lab_dir / "controller.log").write_text("line one\nTraceback ...\n")
    titles = [title for title, _ in session.logs("lab-r7")]
    assert titles[0].startswith("controller (") and any("app errors" in t for t in titles)
