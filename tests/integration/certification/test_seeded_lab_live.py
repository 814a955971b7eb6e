"""``sdnlab lab start ID --seed N`` runs and grades the seed's variant on a real network and records
the seed: the variant's own reference answer scores 100%, the catalogue's answer does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sdnlab.certification import variants
from sdnlab.labs.loader import find_lab_dir, load_lab

pytestmark = pytest.mark.network

NAME = "lab-certseed"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    environ = dict(os.environ, SDNLAB_HOME=str(home), LANG="C.UTF-8")
    yield environ, home
    subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", "lab", "stop", "--name", NAME],
        env=environ,
        capture_output=True,
        timeout=120,
    )


def sdnlab(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", *args], env=env[0], capture_output=True, text=True, timeout=240
    )


def test_a_seeded_lab_is_graded_as_its_variant(env):
    home = env[1]
    spec = variants.load_spec(find_lab_dir("static_flows"))
    seed = next(s for s in range(1, 50) if variants.pick(spec, "static_flows", s)["telnet_port"] != 23)
    port = variants.pick(spec, "static_flows", seed)["telnet_port"]

    started = sdnlab(env, "lab", "start", "1", "--seed", str(seed), "--name", NAME)
    assert started.returncode == 0, started.stderr
    task = sdnlab(env, "lab", "task", "--name", NAME)
    assert f"TCP {port}" in task.stdout

    # the catalogue's answer (blocks TCP 23) is not the answer of this variant
    workdir = home / "work" / "static_flows"
    catalogue_solution = load_lab("static_flows").solution_dir / "flows"
    for path in catalogue_solution.glob("*.flows"):
        (workdir / "flows" / path.name).write_text(path.read_text())
    assert sdnlab(env, "lab", "reset", "--name", NAME).returncode == 0
    copied = sdnlab(env, "lab", "submit", "--name", NAME, "--json")
    assert copied.returncode == 1
    assert json.loads(copied.stdout)["result"]["percent"] < 100.0

    assert sdnlab(env, "lab", "solve", "--name", NAME).returncode == 0
    solved = sdnlab(env, "lab", "submit", "--name", NAME, "--json")
    assert solved.returncode == 0, solved.stdout + solved.stderr
    record = json.loads(solved.stdout)["record"]
    assert record["percent"] == 100.0 and record["seed"] == seed and record["solved_by_reference"]
