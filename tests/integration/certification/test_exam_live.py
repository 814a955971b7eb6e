"""One exam end to end on real networks through the ``sdnlab`` entry point: start (live), write
the reference answer of the trainee's own variant, deploy, the watcher auto-submits at the time
limit, the certificate verifies with its evidence (live flow tables included); a second trainee
who copies that answer into another seed's variant fails.

The exam lasts far longer than the trainee's steps take on a loaded host (each starts, deploys
or grades a live network), so none of them races its clock; once they are done, her time is
ended through the attempt's stored deadline, which is where the watcher reads it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from sdnlab.certification import attempt, variants
from sdnlab.labs.loader import find_lab_dir

pytestmark = pytest.mark.network

EXAM = """id: live_cert
title: {en: Live certification test, ja: ライブ認定テスト}
minutes: 20
pass_percent: 90
attempts: 2
hints: {allowed: false}
certifies: [openflow.match_action, security.access_control]
tasks:
  - lab: static_flows
    weight: 1
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    environ = dict(
        os.environ, SDNLAB_HOME=str(home / "sdnlab"), SDNLAB_CERT_KEYS=str(home / "keys"), LANG="C.UTF-8"
    )
    (home / "live_cert.yaml").write_text(EXAM)
    yield environ, home
    for name in ("ex-cert-a-1", "ex-cert-b-1"):
        subprocess.run(
            [sys.executable, "-m", "sdnlab.cli", "down", "--name", name],
            env=environ,
            capture_output=True,
            timeout=120,
        )


def sdnlab(env, *args, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", *args],
        env=env[0],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _seeds_with_different_ports() -> tuple[int, int]:
    spec = variants.load_spec(find_lab_dir("static_flows"))
    first = variants.pick(spec, "static_flows", 1)
    other = next(s for s in range(2, 50) if variants.pick(spec, "static_flows", s) != first)
    return 1, other


def _attempt_dir(home: Path, session: str) -> Path:
    pointer = json.loads((home / "sdnlab" / "certification" / "current" / f"{session}.json").read_text())
    return home / "sdnlab" / "certification" / "attempts" / pointer["attempt"]


# The watcher rereads the deadline at least every 30 s (it sleeps up to 30 s at a time); a deadline
# set further ahead than that is met at its next read, to within the host's scheduling delay.
WATCHER_READS_S = 30.0


def _end_time_at(directory: Path, moment: float) -> None:
    """Make the attempt's time end at ``moment``: its deadline in attempt.json, which the watcher
    and every exam command read (written the way the product writes it: whole file, atomically)."""
    state = attempt.load(directory)
    assert state.data["status"] == "running", state.data["status"]
    state.data["deadline"] = moment
    state.save()


def _copy(src: Path, dst: Path) -> None:
    for path in src.rglob("*.flows"):
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())


def test_a_live_exam_auto_submits_and_its_certificate_verifies(env):
    home = env[1]
    seed_a, seed_b = _seeds_with_different_ports()
    exam = str(home / "live_cert.yaml")

    started = sdnlab(
        env, "exam", "start", exam, "--seed", str(seed_a), "--name", "ex-cert-a", "--trainee", "Ann Example"
    )
    assert started.returncode == 0, started.stderr
    attempt_a = _attempt_dir(home, "ex-cert-a")

    status = sdnlab(env, "exam", "status", "--name", "ex-cert-a")
    assert "hidden check(s)" in status.stdout and "to h1 either" not in status.stdout

    # Ann writes her own variant's answer and installs it on the switches
    _copy(
        attempt_a / "labs" / "instructor" / "static_flows" / "solution", attempt_a / "work" / "1-static_flows"
    )
    deployed = sdnlab(env, "exam", "deploy", "1", "--name", "ex-cert-a")
    assert deployed.returncode == 0, deployed.stderr
    checked = sdnlab(env, "exam", "check", "1", "--name", "ex-cert-a")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # her time ends soon after (Bob's steps run meanwhile; none of his has a deadline near)
    deadline = time.time() + WATCHER_READS_S + 5
    _end_time_at(attempt_a, deadline)

    # Bob gets another variant and copies Ann's answer
    started_b = sdnlab(
        env, "exam", "start", exam, "--seed", str(seed_b), "--name", "ex-cert-b", "--trainee", "Bob Example"
    )
    assert started_b.returncode == 0, started_b.stderr
    attempt_b = _attempt_dir(home, "ex-cert-b")
    _copy(attempt_a / "work" / "1-static_flows", attempt_b / "work" / "1-static_flows")
    assert sdnlab(env, "exam", "deploy", "1", "--name", "ex-cert-b").returncode == 0
    bob = sdnlab(env, "exam", "submit", "--name", "ex-cert-b")
    assert bob.returncode == 1, bob.stdout + bob.stderr
    bob_state = json.loads((attempt_b / "attempt.json").read_text())
    assert not bob_state["result"]["passed"] and "certificate" not in bob_state

    # nobody submits for Ann: the watcher does at the deadline
    while time.time() < deadline + 240:  # grading her live network, on a loaded host
        state = json.loads((attempt_a / "attempt.json").read_text())
        # the result is saved first, the certificate signed after it: wait for both
        if state["status"] == "submitted" and ("certificate" in state or "certificate_error" in state):
            break
        time.sleep(1)
    assert state["status"] == "submitted" and state["auto_submitted"] is True
    assert state["deadline"] == deadline
    assert 0 <= state["submitted_at"] - deadline < 30, "graded at the time limit, not before it"
    assert state["result"]["percent"] == 100.0 and state["result"]["passed"]

    verified = sdnlab(
        env,
        "cert",
        "verify",
        state["certificate"],
        "--evidence",
        state["evidence"]["path"],
        "--key",
        str(home / "keys" / "issuer.pub.pem"),
        "--json",
    )
    assert verified.returncode == 0, verified.stderr
    facts = json.loads(verified.stdout)
    assert facts["trainee"] == "Ann Example" and facts["seed"] == seed_a and facts["evidence_checked"]

    with zipfile.ZipFile(state["evidence"]["path"]) as bundle:
        names = bundle.namelist()
        s2 = bundle.read("tasks/1-static_flows/tables/s2.flows").decode()
    assert "tasks/1-static_flows/report.json" in names
    port = variants.pick(variants.load_spec(find_lab_dir("static_flows")), "static_flows", seed_a)[
        "telnet_port"
    ]
    assert f"tp_dst={port}" in s2, "the live flow table of s2 is in the evidence"

    # the networks are down after grading
    assert sdnlab(env, "status", "--name", "ex-cert-a-1").returncode != 0
    assert sdnlab(env, "status", "--name", "ex-cert-b-1").returncode != 0
