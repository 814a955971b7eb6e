"""``sdnlab lab check`` grades lab 2 (a Ryu app) by replay; ``submit`` grades it live; they agree.

Through the real ``sdnlab`` entry point on a real lab: the starter and then the reference
solution are checked (replay: the output says so, no network is touched) and submitted (live
Mininet + OVS), and every public check has the same verdict both ways. Editing the app without
``lab reset`` is pointed out by check, since submit grades the app that is running.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from sdnlab.labs import load_lab

pytestmark = pytest.mark.network

NAME = "lab-rpchk"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    environ = dict(os.environ, SDNLAB_HOME=str(home), LANG="C.UTF-8")
    environ.pop("LC_ALL", None)
    yield environ, home
    sdnlab(environ, "lab", "stop", "--name", NAME)


def sdnlab(environ, *args, timeout=240):
    return subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def verdicts(result: dict) -> dict[str, bool]:
    return {c["id"]: c["passed"] for c in result["checks"]}


def check_and_submit(environ) -> tuple[dict, dict]:
    checked = sdnlab(environ, "lab", "check", "--name", NAME, "--json")
    submitted = sdnlab(environ, "lab", "submit", "--name", NAME, "--json")
    assert checked.returncode in (0, 1) and submitted.returncode in (0, 1), checked.stderr + submitted.stderr
    return json.loads(checked.stdout), json.loads(submitted.stdout)["result"]


def test_check_replays_and_agrees_with_the_live_submit_for_starter_and_reference(env):
    environ, home = env
    lab = load_lab("l2_learning")
    started = sdnlab(environ, "lab", "start", "l2_learning", "--name", NAME)
    assert started.returncode == 0, started.stderr

    check, submit = check_and_submit(environ)
    assert check["mode"] == "replay" and submit["mode"] == "live"
    assert any(n.startswith("graded by replay") for n in check["notes"])
    assert verdicts(check) == verdicts(submit) == {"flows-h1-h4": False, "ping-all": True}
    assert check["percent"] == 50.0
    assert any("flows-before-second-packet" in n for n in check["notes"]), check["notes"]

    text = " ".join(sdnlab(environ, "lab", "check", "--name", NAME).stdout.split())  # unwrapped
    assert "graded by replay" in text and "points, replay," in text, text

    app = home / "work" / "l2_learning" / "l2_switch.py"
    shutil.copy(lab.solution_dir / "l2_switch.py", app)
    os.utime(app)  # edited now: after the running controller started
    edited = json.loads(sdnlab(environ, "lab", "check", "--name", NAME, "--json").stdout)
    assert edited["percent"] == 100.0  # check grades the file as it is
    assert any("changed after your lab's controller started" in n for n in edited["notes"])

    assert sdnlab(environ, "lab", "reset", "--name", NAME).returncode == 0
    check, submit = check_and_submit(environ)
    assert verdicts(check) == verdicts(submit) == {"flows-h1-h4": True, "ping-all": True}
    assert check["percent"] == submit["percent"] == 100.0
    assert submit["hidden_checks"]["passed"] == submit["hidden_checks"]["total"] > 0
    assert not any("changed after" in n for n in check["notes"])
