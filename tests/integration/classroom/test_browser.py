"""A whole class in a real browser: Debian's chromium driven by Playwright against ``sdnlab serve``.

The server runs as the real command (root starts the agent, the web process drops to
``nobody``). An instructor creates a class and imports a trainee from the dashboard; the
trainee logs in, starts lab 3, types ``ovs-ofctl`` into the terminal, edits and deploys flow
files, checks (sees a counterexample), submits with 100%; the instructor's dashboard shows
the result without a reload. Screenshots of the main pages go to docs/img/.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from sdnlab.labs.loader import load_lab

pytestmark = [pytest.mark.network, pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"
DOCS_IMG = Path(__file__).resolve().parents[3] / "docs" / "img"
LAB = "smart_meters"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """``sdnlab serve`` on a free port with a fresh state folder and an instructor account."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (tools/setup.sh installs it)")
    if not (Path(__file__).resolve().parents[3] / "classroom/static/vendor/xterm.js").exists():
        pytest.skip("xterm.js is not installed (tools/setup.sh installs it from npm)")
    state = Path(tempfile.mkdtemp(prefix="sdnlab-classroom-"))
    os.chmod(state, 0o755)  # the web process runs as nobody
    sdnlab = [sys.executable, "-m", "sdnlab.cli"]
    subprocess.run(
        [*sdnlab, "users", "add", "iris", "--role", "instructor", "--state", str(state)],
        input="password-iris\n", text=True, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    port = _free_port()
    prefix = "cb" + secrets.token_hex(2)
    log = open(state / "serve.log", "w")  # noqa: SIM115  # kept open for the server's lifetime
    proc = subprocess.Popen(
        [*sdnlab, "serve", "--state", str(state), "--port", str(port), "--sandbox-prefix", prefix],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.terminate()
        pytest.fail("sdnlab serve did not come up: " + (state / "serve.log").read_text()[-2000:])
    yield url, state
    proc.terminate()
    proc.wait(timeout=30)
    # the agent stops when the server goes; sandboxes of this run are taken down by it or here
    subprocess.run([*sdnlab, "down", "--name", f"{prefix}1"], capture_output=True, timeout=120)
    if (state / "agent" / "ns").is_dir():  # own-ovs sandboxes (the default isolation)
        from sdnlab.classroom.backends.namespaces import NamespaceBackend

        sandboxes = NamespaceBackend(state / "agent")
        for sandbox in sandboxes.sandboxes():
            sandboxes.stop(sandbox)
    shutil.rmtree(state, ignore_errors=True)


def shot(page, name: str) -> None:
    DOCS_IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_IMG / f"classroom-{name}.png"), full_page=False)


def login(page, url, user, password):
    page.goto(url + "/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_a_class_in_the_browser_from_login_to_a_result_on_the_dashboard(server):
    from playwright.sync_api import expect, sync_playwright

    url, _state = server
    solution = load_lab(LAB).solution_dir / "flows"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        instructor = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        login(instructor, url, "iris", "password-iris")
        expect(instructor.locator("#sessions")).to_be_visible()
        instructor.fill("#class-name", "spring")
        instructor.click("#create-class")
        expect(instructor.locator("#toast")).to_have_text("ok")
        instructor.fill("#csv", "username,password,class\ntina,password-tina,spring\n")
        instructor.click("#import")
        expect(instructor.locator("#toast")).to_have_text("tina")

        trainee = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        trainee.goto(url + "/")
        shot(trainee, "login")
        login(trainee, url, "tina", "password-tina")
        expect(trainee.locator("#catalogue")).to_be_visible()
        shot(trainee, "catalogue")
        trainee.click(f"[data-start={LAB}]")
        expect(trainee.locator("#terminal .xterm")).to_be_visible(timeout=90_000)

        # the terminal: ovs-ofctl on the trainee's own switch
        trainee.click("#terminal")
        trainee.keyboard.type("ovs-ofctl dump-flows core\n")
        screen = (
            "() => { const b = window.classroomTerminal.buffer.active; let s = '';"
            " for (let i = 0; i < b.length; i++) s += b.getLine(i).translateToString(true) + '\\n';"
            " return s; }"
        )
        trainee.wait_for_function(f"() => ({screen})().includes('cookie=0x0')", timeout=30_000)
        assert "actions=" in trainee.evaluate(screen)

        # a first check on the starter shows a counterexample
        trainee.click("#check")
        expect(trainee.locator("#score")).to_be_visible(timeout=60_000)
        expect(trainee.locator("#feedback .fail").first).to_be_visible()
        expect(trainee.locator("#feedback pre").first).to_contain_text("->")
        expect(trainee.locator("#topology .pill.hit").first).to_be_visible()  # the counterexample's nodes

        # edit and deploy every flow file, then check and submit
        for path in sorted(solution.iterdir()):
            trainee.select_option("#files", f"flows/{path.name}")
            starter = load_lab(LAB).starter_dir / "flows" / path.name
            expect(trainee.locator("#editor")).to_have_value(starter.read_text())  # the file is loaded
            trainee.fill("#editor", path.read_text())
            trainee.click("#deploy")
            expect(trainee.locator("#toast")).to_have_text("Saved and deployed", timeout=60_000)
            trainee.locator("#toast").evaluate("el => { el.hidden = true; el.textContent = ''; }")
        trainee.click("#check")
        expect(trainee.locator("#score")).to_have_text("100%", timeout=60_000)
        trainee.click("#submit")
        expect(trainee.locator("#feedback")).to_contain_text("hidden checks passed", timeout=60_000)
        feedback = trainee.locator("#feedback").inner_text()
        assert trainee.locator("#score").inner_text() == "100%", feedback  # live ping probes included
        shot(trainee, "lab")

        # the instructor's open dashboard picks the result up without a reload
        expect(instructor.locator('[data-result="tina"] .percent')).to_have_text("100", timeout=15_000)
        expect(instructor.locator('[data-user="tina"] .last')).to_have_text("100")
        # the drill-down: the trainee's files and last report, hidden checks included
        instructor.click('[data-user="tina"] [data-drill]')
        expect(instructor.locator("#drill")).to_contain_text("(hidden)")
        expect(instructor.locator("#drill-file")).to_contain_text("priority=")
        shot(instructor, "dashboard")

        trainee.click("#stop")
        expect(trainee.locator("#catalogue")).to_be_visible(timeout=60_000)
        browser.close()
