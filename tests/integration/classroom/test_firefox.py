"""The classroom UI in Firefox: Debian's firefox-esr driven over WebDriver BiDi by puppeteer-core.

Playwright cannot drive a stock Firefox (it needs its own patched build, which it cannot
download here); puppeteer-core speaks WebDriver BiDi, which firefox-esr implements. The
node script ``firefox_trainee.cjs`` logs a trainee in, starts lab 3 from the catalogue, reads
the topology, types ``ovs-ofctl dump-flows core`` into the terminal and reads its output, checks
(feedback and the counterexample drawn on the topology) and stops the lab. tools/setup.sh
installs firefox-esr and puppeteer-core (into the git-ignored vendor/node_modules).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest
from classroom_client import ANSWER_MS, LIVE_MS, served
from screenshots import screenshot_dir

from sdnlab.labs import live
from sdnlab.labs.loader import load_lab

pytestmark = [pytest.mark.network, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[3]
FIREFOX = "/usr/bin/firefox-esr"
NODE_MODULES = ROOT / "vendor" / "node_modules"
SCRIPT = Path(__file__).with_name("firefox_trainee.cjs")
LAB = "smart_meters"
SHOT = screenshot_dir() / "classroom-lab-firefox.png"  # the lab page after the check, in Firefox


def test_a_trainee_in_firefox_starts_a_lab_types_in_the_terminal_and_checks():
    if not os.path.exists(FIREFOX):
        pytest.skip("firefox-esr is not installed (tools/setup.sh installs it)")
    if not (NODE_MODULES / "puppeteer-core").is_dir() or shutil.which("node") is None:
        pytest.skip("puppeteer-core is not installed (tools/setup.sh installs it from npm)")
    if not (ROOT / "classroom/static/vendor/xterm.js").exists():
        pytest.skip("xterm.js is not installed (tools/setup.sh installs it from npm)")
    with served({"fay": "trainee"}, "cf" + secrets.token_hex(2)) as (url, state):
        run = subprocess.run(
            ["node", str(SCRIPT), url, "fay", "password-fay", LAB, "core"],
            env={**os.environ, "NODE_PATH": str(NODE_MODULES), "FIREFOX_SHOT": str(SHOT),
                 "LIVE_MS": str(LIVE_MS), "ANSWER_MS": str(ANSWER_MS)},
            capture_output=True, text=True, timeout=900,  # above the script's own waits: they say what failed
        )  # fmt: skip
        server_log = (state / "serve.log").read_text()
    assert run.returncode == 0, run.stderr[-3000:] + "\nserver log:\n" + server_log[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["browser"].startswith("firefox/"), seen["browser"]
    assert seen["labs"] >= 3, "the catalogue lists the labs"
    topology = live.load_topology(load_lab(LAB))
    assert sorted(seen["topology"]) == sorted(n.name for n in [*topology.switches(), *topology.hosts()])
    assert "actions=" in seen["terminal"] and "cookie=0x0" in seen["terminal"], seen["terminal"][-800:]
    assert seen["score"].endswith("%") and seen["score"] != "100%", "the starter fails a check"
    assert seen["failed"] >= 1
    assert "blamed rule" in seen["caption"] and seen["hits"] >= 3, seen
    assert len(seen["blamed"]) == 1 and seen["blamed"][0] in seen["caption"]
    assert seen["errors"] == [], "no script errors in the page"
