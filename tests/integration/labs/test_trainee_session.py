"""A trainee session end to end through the real ``sdnlab`` entry point: start, task, check,
hint, fix the workspace, reset, check, submit, progress, stop (lab 3, smart meters)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from sdnlab.labs import load_lab

pytestmark = pytest.mark.network

NAME = "lab-tsess"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    environ = dict(os.environ, SDNLAB_HOME=str(home), LANG="C.UTF-8")
    environ.pop("LC_ALL", None)
    yield environ, home
    subprocess.run([sys.executable, "-m", "sdnlab.cli", "lab", "stop", "--name", NAME], env=environ,
                   capture_output=True, timeout=120)


def sdnlab(env, *args, timeout=180):
    return subprocess.run([sys.executable, "-m", "sdnlab.cli", *args], env=env[0], capture_output=True, text=True,
                          timeout=timeout)


def test_a_trainee_session(env):
    home = env[1]
    lab = load_lab("smart_meters")
    hidden_ids = [b.id for b in lab.behaviours if b.hidden]

    started = sdnlab(env, "lab", "start", "3", "--name", NAME)
    assert started.returncode == 0, started.stderr
    workdir = home / "work" / "smart_meters"
    assert (workdir / "flows" / "core.flows").read_text() == (lab.starter_dir / "flows" / "core.flows").read_text()

    status = json.loads(sdnlab(env, "lab", "status", "--name", NAME, "--json").stdout)
    assert status["lab"] == "smart_meters" and status["network_up"] is True

    task = sdnlab(env, "lab", "task", "--name", NAME, "--lang", "ja")
    assert "スマートメーター" in task.stdout

    first = sdnlab(env, "lab", "check", "--name", NAME, "--json")
    assert first.returncode == 1, "the starter must not pass"
    data = json.loads(first.stdout)
    assert 0 < data["percent"] < 100
    assert not any(h in first.stdout for h in hidden_ids), "check must not reveal hidden checks"
    isolated = next(c for c in data["checks"] if c["id"] == "meters-isolated")
    assert not isolated["passed"] and "blame" in isolated["details"][0]

    for expected in ("hint 1/4", "hint 2/4"):
        hint = sdnlab(env, "lab", "hint", "--name", NAME)
        assert hint.returncode == 0 and expected in hint.stdout

    # the trainee writes the flows in the workspace and installs them
    for path in (lab.solution_dir / "flows").iterdir():
        shutil.copy(path, workdir / "flows" / path.name)
    assert sdnlab(env, "lab", "reset", "--name", NAME).returncode == 0
    second = sdnlab(env, "lab", "check", "--name", NAME, "--json")
    assert second.returncode == 0, second.stdout
    assert json.loads(second.stdout)["percent"] == 100.0

    submitted = sdnlab(env, "lab", "submit", "--name", NAME, "--json")
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    record = json.loads(submitted.stdout)["record"]
    assert record["percent"] == 100.0 and record["hints_used"] == 2 and record["grader_version"]
    assert record["checks_total"] > len(json.loads(second.stdout)["checks"]), "submit adds the hidden checks"
    assert not any(h in submitted.stdout for h in hidden_ids)

    progress = sdnlab(env, "progress", "--json")
    report = json.loads(progress.stdout)
    smart = next(p for p in report["labs"] if p["lab"] == "smart_meters")
    assert smart["done"] and smart["best_percent"] == 100.0 and smart["hints_used"] == 2
    assert report["skills"]["security"]["percent"] > 0 and "smart_meters" in report["skills"]["security"]["labs_done"]

    stopped = sdnlab(env, "lab", "stop", "--name", NAME)
    assert stopped.returncode == 0
    assert sdnlab(env, "lab", "check", "--name", NAME).returncode != 0
