"""`sdnlab up`/`down` on a real network: phases with counts on stderr when piped, pure JSON with --json,
and the current session as the lab commands act on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.network
SDNLAB = [sys.executable, "-m", "sdnlab.cli"]
NAME = "cli-prog"


def sdnlab(*args: str, home: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "80"}
    if home:
        env["SDNLAB_HOME"] = home
    return subprocess.run([*SDNLAB, *args], capture_output=True, text=True, timeout=180, env=env)


def test_up_and_down_report_phases_with_counts_when_piped():
    up = sdnlab("up", "linear", "-p", "switches=3", "--name", NAME)
    try:
        assert up.returncode == 0, up.stderr
        assert f"lab {NAME}: building 3 hosts, 3 switches, 5 links" in up.stderr
        assert f"lab {NAME}: switches connecting to the controller (3/3 done)" in up.stderr
        assert f"lab {NAME} ready in" in up.stderr and "127.0.0.1:" in up.stderr
    finally:
        down = sdnlab("down", "--name", NAME)
    assert down.returncode == 0, down.stderr
    assert f"lab {NAME}: stopping 3 hosts, 3 switches (0/6 done)" in down.stderr
    assert f"lab {NAME}: stopping 3 hosts, 3 switches (6/6 done)" in down.stderr
    assert down.stdout.strip().startswith(f"lab {NAME} down in")


def test_json_up_and_down_print_only_json_and_act_on_the_only_session(tmp_path):
    home = tmp_path / "home"
    (home / "sessions").mkdir(parents=True)
    # a session file as `sdnlab lab start` writes it: commands without --name act on it
    (home / "sessions" / f"{NAME}.json").write_text(
        json.dumps({"name": NAME, "lab": "static_flows", "workdir": str(tmp_path), "started_at": 0})
    )
    up = sdnlab("up", "linear", "-p", "switches=2", "--name", NAME, "--json", home=str(home))
    try:
        assert up.returncode == 0, up.stderr
        assert json.loads(up.stdout)["switches"] == 2 and "building" not in up.stderr
        status = sdnlab("status", "--json", home=str(home))
        assert status.returncode == 0 and json.loads(status.stdout)["name"] == NAME
        dump = sdnlab("flows", "dump", "s1", home=str(home))
        assert dump.returncode == 0 and "OFPST_FLOW" in dump.stdout
    finally:
        down = sdnlab("down", "--json", home=str(home))
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["name"] == NAME and down.stderr == ""
    again = sdnlab("down", "--json", home=str(home))
    error = json.loads(again.stdout)
    assert again.returncode == error["code"] == 4 and f"no lab named '{NAME}'" in error["error"]
