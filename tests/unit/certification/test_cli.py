"""The certification commands through the real entry point: one line and a named exit code on failure."""

import json
import os
import subprocess
import sys

import pytest

from sdnlab.certification import bundle, credential, keys
from sdnlab.certification.canonical import pretty


def run(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def env(tmp_path):
    return dict(os.environ, SDNLAB_HOME=str(tmp_path / "home"), SDNLAB_CERT_KEYS=str(tmp_path / "keys"))


def test_an_offline_exam_from_start_to_a_verified_certificate(env, tmp_path):
    started = run(env, "exam", "start", "quick_openflow", "--offline", "--seed", "4", "--trainee", "Kim")
    assert started.returncode == 0, started.stderr
    status = json.loads(run(env, "exam", "status", "--json").stdout)
    assert status["seed"] == 4 and status["seconds_left"] > 19 * 60
    assert run(env, "exam", "solve").returncode == 0
    submitted = run(env, "exam", "submit", "--certificate", str(tmp_path / "cert.json"))
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    evidence = next((tmp_path / "home" / "certification" / "attempts").glob("*/evidence.zip"))
    verified = run(env, "cert", "verify", str(tmp_path / "cert.json"), "--evidence", str(evidence))
    assert verified.returncode == 0 and "VALID" in verified.stdout and "reference run" in verified.stdout

    document = json.loads((tmp_path / "cert.json").read_text())
    document["credentialSubject"]["sdnlab"]["score_percent"] = 99.0
    (tmp_path / "cert.json").write_text(pretty(document))
    tampered = run(env, "cert", "verify", str(tmp_path / "cert.json"))
    assert tampered.returncode == 6
    assert tampered.stderr.count("\n") == 1 and "signature does not match" in tampered.stderr
    assert "Traceback" not in tampered.stderr


def test_verify_without_a_trusted_key_says_what_to_pass(env, tmp_path):
    key = keys.load_or_create(tmp_path / "elsewhere")
    info = bundle.write_bundle(tmp_path / "b.zip", {"a": b"1"}, {})
    facts = credential.CertificateFacts(
        "A", "e", "E", "1.0", {}, 90.0, 70.0, "", "x", 1, info.manifest_sha256, info.bundle_sha256
    )
    credential.save(credential.build(facts, key), tmp_path / "c.json")
    result = run(env, "cert", "verify", str(tmp_path / "c.json"))
    assert result.returncode == 2 and "pass --key" in result.stderr
    wrong = run(env, "cert", "key")  # creates the local issuer: another key
    assert wrong.returncode == 0
    result = run(env, "cert", "verify", str(tmp_path / "c.json"))
    assert result.returncode == 6 and "another key" in result.stderr
    good = run(
        env, "cert", "verify", str(tmp_path / "c.json"), "--key", str(tmp_path / "elsewhere" / keys.PUBLIC)
    )
    assert good.returncode == 0


def test_a_bad_exam_file_is_one_line_with_file_and_line(env, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: bad\ntitle: {en: B, ja: ビ}\nminutes: 20\npass_percent: 70\ncertifies: [x.y]\ntasks: []\n"
    )
    result = run(env, "exam", "start", str(bad), "--offline")
    assert result.returncode == 2 and f"{bad}:5: certifies[0]: unknown skill" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_running_exam_is_exit_code_4_like_no_running_lab(env):
    for command in (["exam", "status"], ["exam", "check", "1"], ["exam", "submit"]):
        result = run(env, *command)
        assert result.returncode == 4, (command, result.stderr)
        assert result.stderr.strip() == (
            "sdnlab: error: no exam running in session 'exam': `sdnlab exam start EXAM`"
        )
    assert run(env, "lab", "status").returncode == 4  # the same code for "no such lab"
    started = run(env, "exam", "start", "quick_openflow", "--offline", "--seed", "4")
    assert started.returncode == 0, started.stderr
    again = run(env, "exam", "start", "quick_openflow", "--offline", "--seed", "4")
    assert again.returncode == 4 and "already runs exam quick_openflow" in again.stderr


def test_the_next_steps_after_start_carry_the_session_name_it_was_started_with(env):
    # `exam status` without it answers "no exam running in session 'exam'"
    default = run(env, "exam", "start", "quick_openflow", "--offline", "--seed", "4")
    assert "next: `sdnlab exam task 1`, `sdnlab exam check 1`, `sdnlab exam status`," in default.stdout
    named = run(env, "exam", "start", "quick_openflow", "--offline", "--seed", "4", "--name", "qa-exam")
    assert named.returncode == 0, named.stderr
    assert (
        "next: `sdnlab exam task 1 --name qa-exam`, `sdnlab exam check 1 --name qa-exam`, "
        "`sdnlab exam status --name qa-exam`, `sdnlab exam submit --name qa-exam`"
    ) in named.stdout
    assert run(env, "exam", "status", "--name", "qa-exam").returncode == 0
