"""``sdnlab lab check`` blames the trainee's own file and line (issue 11 item 5), on a real network.

Lab 1 with the solution's flows, except that the trainee's s2.flows gets a wrong drop rule on a
line whose number differs from its line in ``dump-flows`` output (comments and a blank line come
first). The failing check must cite ``flows/s2.flows:<that line>``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.network

NAME = "lab-gblame"
WRONG = "priority=300,ip,nw_dst=10.0.0.3,actions=drop"


def _sdnlab(environ, *args):
    return subprocess.run(
        [sys.executable, "-m", "sdnlab.cli", *args], env=environ, capture_output=True, text=True, timeout=240
    )


@pytest.fixture
def environ(tmp_path):
    if os.geteuid() != 0 or shutil.which("ovs-vsctl") is None:
        pytest.skip("needs root and Open vSwitch")
    env = dict(os.environ, SDNLAB_HOME=str(tmp_path / "home"), LANG="C.UTF-8", COLUMNS="400")
    env.pop("LC_ALL", None)
    yield env
    _sdnlab(env, "lab", "stop", "--name", NAME)


def test_check_cites_the_workspace_file_and_line(environ, tmp_path):
    from sdnlab.labs import load_lab

    work = tmp_path / "work"
    shutil.copytree(load_lab("static_flows").solution_dir, work)
    s2 = work / "flows" / "s2.flows"
    rules = [line for line in s2.read_text().splitlines() if line.strip() and not line.startswith("#")]
    s2.write_text("# my s2\n# (h3 is on s3)\n\n" + "\n".join([*rules, WRONG]) + "\n")
    wrong_line = 3 + len(rules) + 1
    started = _sdnlab(environ, "lab", "start", "1", "--name", NAME, "--workdir", str(work))
    assert started.returncode == 0, started.stderr
    checked = _sdnlab(environ, "lab", "check", "--name", NAME)
    assert checked.returncode != 0
    assert f"{s2}:{wrong_line}" in checked.stdout, checked.stdout
