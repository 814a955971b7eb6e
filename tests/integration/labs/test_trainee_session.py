"""A trainee session end to end through the real ``sdnlab`` entry point: start, task, check,
hint, a broken reset that keeps the switches' flows, fix the workspace, reset, check, submit,
progress, an instructor's solve (later submits not counted), stop (lab 3, smart meters)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from sdnlab.labs import load_lab
from sdnlab.runtime import api

pytestmark = pytest.mark.network

NAME = "lab-tsess"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    environ = dict(os.environ, SDNLAB_HOME=str(home), LANG="C.UTF-8")
    environ.pop("LC_ALL", None)
    yield environ, home
    subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", "lab", "stop", "--name", NAME],
        env=environ,
        capture_output=True,
        timeout=120,
    )


def sdnlab(env, *args, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", *args],
        env=env[0],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def dump(bridge: str) -> list[str]:
    """A bridge's flows without counters, sorted."""
    out = subprocess.run(
        ["ovs-ofctl", "-O", "OpenFlow13", "--no-stats", "dump-flows", bridge],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return sorted(line.strip() for line in out.splitlines() if line.strip())


def test_a_trainee_session(env):
    home = env[1]
    lab = load_lab("smart_meters")
    hidden_ids = [b.id for b in lab.behaviours if b.hidden]

    started = sdnlab(env, "lab", "start", "3", "--name", NAME)
    assert started.returncode == 0, started.stderr
    assert f"`sdnlab lab task --name {NAME}`, then `sdnlab lab check --name {NAME}`" in started.stdout
    workdir = home / "work" / "smart_meters"
    assert (workdir / "flows" / "core.flows").read_text() == (
        lab.starter_dir / "flows" / "core.flows"
    ).read_text()

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

    # --lang ja: the feedback is Japanese, check descriptions included (none left in English)
    ja = sdnlab((dict(env[0], COLUMNS="200"), home), "lab", "check", "--name", NAME, "--lang", "ja")
    public = list(data["checks"])
    assert public and ja.returncode == 1
    for item in public:
        row = next(line for line in ja.stdout.splitlines() if item["id"] in line)
        assert JAPANESE.search(row), row
        assert lab.check_texts[item["id"]].en not in ja.stdout

    for expected in ("hint 1/4", "hint 2/4"):
        hint = sdnlab(env, "lab", "hint", "--name", NAME)
        assert hint.returncode == 0 and expected in hint.stdout

    # a broken line: reset refuses it, names file and line, and the switches keep their flows
    core = workdir / "flows" / "core.flows"
    original = core.read_text()
    bridge = next(s["bridge"] for s in api.status(NAME)["switches"] if s["name"] == "core")
    before = dump(bridge)
    assert before, "the starter installs flows on core"
    core.write_text(original + "priority=x,garbage actions=frob\n")
    broken = sdnlab(env, "lab", "reset", "--name", NAME)
    assert broken.returncode == 4 and "Traceback" not in broken.stderr
    assert f'{core}:{len(original.splitlines()) + 1}: invalid priority "x"' in broken.stderr
    assert dump(bridge) == before
    core.write_text(original)

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
    assert (
        report["skills"]["security"]["percent"] > 0
        and "smart_meters" in report["skills"]["security"]["labs_done"]
    )

    # an instructor deploys the reference: a submit in this session is not the trainee's score
    solved = sdnlab(env, "lab", "solve", "--name", NAME)
    assert solved.returncode == 0 and "instructor" in solved.stdout, solved.stderr
    again = json.loads(sdnlab(env, "lab", "submit", "--name", NAME, "--json").stdout)["record"]
    assert again["percent"] == 100.0 and again["solved_by_reference"] is True
    smart = next(
        p for p in json.loads(sdnlab(env, "progress", "--json").stdout)["labs"] if p["lab"] == "smart_meters"
    )
    assert smart["attempts"] == 1 and smart["reference_runs"] == 1

    stopped = sdnlab(env, "lab", "stop", "--name", NAME)
    assert stopped.returncode == 0
    assert sdnlab(env, "lab", "check", "--name", NAME).returncode != 0
