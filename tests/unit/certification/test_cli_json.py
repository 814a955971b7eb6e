"""``--json`` of the certification commands: one JSON document (the ``sdnlab.jsonio`` style) with
the facts the text output gives, offline (flow-file grading, keys and homes in a temporary folder)."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sdnlab.certification import keys, variants
from sdnlab.cli import root
from sdnlab.labs.loader import find_lab_dir, load_lab


@pytest.fixture(autouse=True)
def homes(tmp_path, monkeypatch):
    monkeypatch.setenv("SDNLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SDNLAB_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("SDNLAB_CERT_KEYS", str(tmp_path / "keys"))
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)


def sdnlab_json(*args: str):
    """Run ``sdnlab ARGS --json``; its stdout must be exactly one JSON document, indented by 2."""
    result = CliRunner().invoke(root, [*args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout.startswith(("{\n  ", "[\n  "))
    return json.loads(result.stdout)


def test_cert_key_gives_the_public_key_file_and_its_did(tmp_path):
    info = sdnlab_json("cert", "key")
    assert info["public_key_path"] == str(tmp_path / "keys" / keys.PUBLIC)
    assert info["did"] == keys.did_key(keys.load_public(Path(info["public_key_path"])))
    assert info["did"].startswith("did:key:z")
    assert sdnlab_json("cert", "key") == info  # created once, then reused


def test_lab_render_gives_the_folder_seed_and_values_of_the_variant(tmp_path):
    info = sdnlab_json("lab", "render", "static_flows", "--seed", "7", "-o", str(tmp_path / "out"))
    assert info["seed"] == 7 and Path(info["path"]).parent == tmp_path / "out"
    load_lab(Path(info["path"]))
    again = variants.render(find_lab_dir("static_flows"), 7, tmp_path / "again")
    assert info["values"] == json.loads(json.dumps(again.values)) and info["values"]
    other = sdnlab_json("lab", "render", "static_flows", "--seed", "8", "-o", str(tmp_path / "other"))
    assert other["seed"] == 8


def test_exam_list_keeps_japanese_text_readable():
    result = CliRunner().invoke(root, ["exam", "list", "--lang", "ja", "--json"])
    assert result.exit_code == 0
    exams = {row["id"]: row for row in json.loads(result.stdout)}
    assert exams["quick_openflow"]["title"] == "クイックチェック: OpenFlow フローと最小権限"
    assert "クイックチェック" in result.stdout and "\\u" not in result.stdout


def test_an_offline_exam_answers_every_step_in_json(tmp_path):
    started = sdnlab_json(
        "exam", "start", "quick_openflow", "--offline", "--seed", "4", "--trainee", "Kim", "-n", "jx"
    )
    assert started["exam"] == "quick_openflow" and started["seed"] == 4 and started["mode"] == "offline"
    assert started["trainee"] == "Kim" and started["session"] == "jx"
    assert [t["lab"] for t in started["tasks"]] == ["static_flows", "smart_meters"]
    assert all(Path(t["workspace"]).is_dir() for t in started["tasks"])
    assert started["started_at"].endswith("Z") and started["deadline"] > started["started_at"]

    task = sdnlab_json("exam", "task", "1", "-n", "jx")
    assert task["task"] == 1 and task["lab"] == "static_flows" and task["text"].strip()
    japanese = sdnlab_json("exam", "task", "1", "-n", "jx", "--lang", "ja")
    assert task["lang"] == "en" and japanese["lang"] == "ja" and japanese["text"] != task["text"]

    hint = sdnlab_json("exam", "hint", "1", "-n", "jx")
    assert hint["index"] == 1 and hint["total"] >= 1 and hint["text"] and hint["cost"] == 5

    deployed = sdnlab_json("exam", "deploy", "2", "-n", "jx")
    assert deployed == {"task": 2, "workspace": started["tasks"][1]["workspace"], "mode": "offline"}

    solved = sdnlab_json("exam", "solve", "-n", "jx")
    assert solved["attempt"] == started["attempt"] and solved["reference_run"] is True
    assert solved["workspaces"] == [t["workspace"] for t in started["tasks"]]

    submitted = sdnlab_json("exam", "submit", "-n", "jx", "--certificate", str(tmp_path / "cert.json"))
    assert submitted["result"]["passed"] and submitted["certificate_copy"] == str(tmp_path / "cert.json")

    issued = sdnlab_json("exam", "issue", started["attempt"])
    assert issued == {"attempt": started["attempt"], "certificate": submitted["certificate"]}

    pages = sdnlab_json("cert", "page", str(tmp_path / "cert.json"), "-o", str(tmp_path / "page"), "--no-pdf")
    assert pages["written"] == [str(tmp_path / "page.en.html"), str(tmp_path / "page.ja.html")]
    assert all(Path(p).is_file() for p in pages["written"])

    revoked = sdnlab_json("cert", "revoke", str(tmp_path / "cert.json"), "--reason", "test")
    assert revoked["revoked"] == pages["certificate"] and revoked["count"] == 1
    assert revoked["revocations"] == str(tmp_path / "keys" / "revocations.json")
