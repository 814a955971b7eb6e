"""The lab commands in-process: catalogue, texts, validation, scaffolding, batch grading, errors."""

from __future__ import annotations

import csv
import json
import shutil

from typer.testing import CliRunner

from sdnlab.cli import root
from sdnlab.labs import load_lab
from sdnlab.labs.scaffold import new_lab

runner = CliRunner()


def invoke(*args):
    return runner.invoke(root, list(args))


def test_list_json_shows_no_hidden_checks_or_solutions():
    result = invoke("lab", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) >= 8
    smart = next(r for r in rows if r["id"] == "smart_meters")
    assert smart["number"] == 3 and smart["title"]["ja"] and smart["best_percent"] is None
    assert "solution" not in result.output and "hidden" not in result.output


def test_task_text_in_both_languages():
    en = invoke("lab", "task", "3", "--lang", "en")
    ja = invoke("lab", "task", "3", "--lang", "ja")
    assert en.exit_code == 0 and "Smart meters" in en.output
    assert ja.exit_code == 0 and "スマートメーター" in ja.output


def test_task_language_follows_the_locale(monkeypatch):
    monkeypatch.setenv("LANG", "ja_JP.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    assert "課題" in invoke("lab", "task", "1").output


def test_trainee_commands_without_a_session_say_how_to_start():
    from sdnlab.labs.errors import LabSessionError

    for command in ("status", "check", "hint", "submit", "reset", "stop"):
        result = invoke("lab", command)
        assert isinstance(result.exception, LabSessionError), command
        assert "start one with `sdnlab lab start ID`" in str(result.exception)


def test_validate_a_static_lab():
    result = invoke("lab", "validate", "connected_car", "--mode", "static")
    assert result.exit_code == 0, result.output
    assert (
        "OK   connected_car: solution 100%" in result.output and "(static (behaviours only" in result.output
    )


def test_validate_needs_an_id_or_all():
    result = invoke("lab", "validate")
    assert result.exit_code != 0


def test_scaffold_loads_and_validate_lists_what_is_missing(tmp_path):
    folder = new_lab("my_new_lab", tmp_path)
    lab = load_lab(folder)
    assert lab.id == "my_new_lab" and lab.number == 1
    result = invoke("lab", "validate", str(folder), "--json")
    report = json.loads(result.output)[0]
    assert result.exit_code == 1 and not report["ok"]
    assert any("task text is missing or too short" in p for p in report["problems"])
    assert any("solution scores" in p for p in report["problems"])


def test_scaffold_refuses_bad_or_existing_ids(tmp_path):
    assert invoke("lab", "new", "Bad-Id", "--root", str(tmp_path)).exit_code != 0
    new_lab("twice", tmp_path)
    assert invoke("lab", "new", "twice", "--root", str(tmp_path)).exit_code != 0


def test_grade_batch_writes_csv_and_json(tmp_path):
    lab = load_lab("connected_car")  # --mode static: flow files only, no network in unit tests
    klass = tmp_path / "class"
    shutil.copytree(lab.solution_dir, klass / "alice")
    shutil.copytree(lab.starter_dir, klass / "bob")
    shutil.copytree(lab.starter_dir, klass / "carol")
    (klass / "carol" / "flows" / "edge.flows").write_text("priority=10,actions=fly\n")
    result = invoke("lab", "grade-batch", str(klass), "--lab", "5", "--mode", "static")
    assert result.exit_code == 0, result.output
    with open(klass / "grades.csv") as f:
        rows = {r["trainee"]: r for r in csv.DictReader(f)}
    assert float(rows["alice"]["percent"]) == 100.0
    assert 0 < float(rows["bob"]["percent"]) < 100.0
    assert float(rows["carol"]["percent"]) == 0.0 and "edge.flows:1" in rows["carol"]["error"]
    data = json.loads((klass / "grades.json").read_text())
    assert {r["trainee"] for r in data} == {"alice", "bob", "carol"}
    assert any(c["hidden"] for c in data[0]["checks"]), "instructors see hidden checks"


def test_progress_json_on_a_fresh_home():
    result = invoke("progress", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["labs"] == [] and set(report["skills"]) == {"network", "programming", "security"}


def test_grade_batch_static_refuses_labs_that_need_a_controller(tmp_path):
    (tmp_path / "alice").mkdir()
    result = invoke("lab", "grade-batch", str(tmp_path), "--lab", "2", "--mode", "static")
    assert "needs a live network" in str(result.exception)


def test_status_of_a_session_whose_network_is_gone(sdnlab_home, tmp_path, monkeypatch):
    from sdnlab.labs.session import Session, _save

    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path / "run"))
    _save(Session("lab", "smart_meters", "/tmp/work", started_at=0.0, hints_used=1))
    result = invoke("lab", "status", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["lab"] == "smart_meters" and info["hints_used"] == 1 and info["hints_total"] == 4
    assert info["network_up"] is False
    assert "DOWN" in invoke("lab", "status").output


def test_validate_reports_non_utf8_files_in_one_line(lab_copy):
    folder = lab_copy("connected_car")
    (folder / "README.ja.md").write_bytes((folder / "README.ja.md").read_bytes() + b"\n\xff\n")
    flows = sorted((folder.parent / "instructor" / folder.name / "solution" / "flows").glob("*.flows"))[0]
    flows.write_bytes(flows.read_bytes() + b"\xff\n")
    result = invoke("lab", "validate", str(folder), "--mode", "static")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output  # no traceback
    assert "README.ja.md:" in result.output and "not UTF-8 text (byte 0xff)" in result.output
    (folder / "README.ja.md").write_bytes(b"\xff")
    result = invoke("lab", "validate", str(folder), "--mode", "static")
    assert isinstance(result.exception, SystemExit) and "README.ja.md:1: not UTF-8 text" in result.output


def test_grade_batch_gives_a_non_utf8_submission_an_error_row_and_grades_the_others(tmp_path):
    lab = load_lab("connected_car")
    klass = tmp_path / "class"
    shutil.copytree(lab.solution_dir, klass / "alice")
    shutil.copytree(lab.starter_dir, klass / "bob")
    flows = sorted((klass / "bob" / "flows").glob("*.flows"))[0]
    flows.write_bytes(b"priority=0,actions=drop\n\xff\n")
    result = invoke("lab", "grade-batch", str(klass), "--lab", "5", "--mode", "static")
    assert result.exit_code == 0, result.output
    with open(klass / "grades.csv") as f:
        rows = {r["trainee"]: r for r in csv.DictReader(f)}
    assert float(rows["alice"]["percent"]) == 100.0
    assert float(rows["bob"]["percent"]) == 0.0 and f"{flows.name}:2: not UTF-8 text" in rows["bob"]["error"]


def test_scaffold_refuses_a_missing_root(tmp_path):
    from sdnlab.labs.errors import LabPackageError

    result = invoke("lab", "new", "qa2", "--root", str(tmp_path / "nonexist" / "x"))
    assert isinstance(result.exception, LabPackageError) and "no such folder" in str(result.exception)
    assert not (tmp_path / "nonexist").exists()


def test_the_demo_ends_with_what_to_do_next():
    from sdnlab.labs.demo import next_steps

    text = " ".join(next_steps(load_lab("3")))
    assert "`sdnlab lab list`" in text and "`sdnlab lab start 3`" in text


def test_task_texts_name_bridges_as_the_runtime_does():
    """Slot 0 bridges are the switch names (dc1), slot k > 0 ones l<k>dc1: there is no l0 prefix."""
    import re

    from sdnlab.labs import catalogue

    for lab in catalogue():
        for lang in ("en", "ja"):
            assert not re.search(r"\bl0[a-z]", lab.task_text(lang)), (lab.id, lang)


def test_a_behaviour_on_an_unknown_node_names_the_file_once(make_lab):
    from tests.unit.labs.conftest import GOOD_LAB

    folder = make_lab(
        GOOD_LAB.replace("reach: {src: h1, dst: h2, traffic: any}", "reach: {src: h9, dst: h2, traffic: any}")
    )
    result = invoke("lab", "validate", str(folder), "--mode", "static")
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1
    # reported when the lab is loaded, with lab.yaml's other problems, before anything is graded
    assert f"- {folder / 'lab.yaml'}:11: reach.src: unknown node 'h9'" in result.output
    assert result.output.count(str(folder / "lab.yaml")) == 1


def test_status_of_a_running_lab_names_its_seed_rest_port_and_token_file(sdnlab_home, tmp_path, monkeypatch):
    # lab 10's text sends trainees to `sdnlab lab status` for the REST port their curl needs
    import os

    from sdnlab.labs.session import Session, _save

    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path / "run"))
    lab_dir = tmp_path / "run" / "lab"
    lab_dir.mkdir(parents=True)
    controller = {"mode": "app", "host": "127.0.0.1", "port": 6655, "rest_port": 8082, "apps": ["x.py"]}
    state = {"phase": "ready", "supervisor_pid": os.getpid(), "controller": controller}
    (lab_dir / "state.json").write_text(json.dumps(state))
    _save(Session("lab", "ryubook_rest_linkage", "/tmp/work", started_at=0.0, seed=42))
    info = json.loads(invoke("lab", "status", "--json").output)
    assert info["seed"] == 42  # the trainee's variant (`lab start --seed 42`)
    assert info["network_up"] is True
    assert info["controller"] == {"mode": "app", "host": "127.0.0.1", "port": 6655, "rest_port": 8082}
    assert info["rest_token_file"] == str(lab_dir / "rest.token")
    text = invoke("lab", "status").output
    assert "variant: seed 42" in text and "controller app on 127.0.0.1:6655" in text
    token = lab_dir / "rest.token"
    curl = f'curl -H "Authorization: Bearer $(cat {token})"'
    assert f"REST API http://127.0.0.1:8082/ (every request carries the lab's token: {curl}" in text
