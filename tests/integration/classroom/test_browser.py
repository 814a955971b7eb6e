"""A whole class in a real browser: Debian's chromium driven by Playwright against ``sdnlab serve``.

The server runs as the real command (root starts the agent, the web process drops to
``nobody``). An instructor creates a class and imports a trainee from the dashboard; the
trainee logs in, starts lab 3, sees the lab's topology drawn live (every host, switch and
link), types ``ovs-ofctl`` into the terminal, checks (sees a counterexample, drawn on the
topology as the path the packet took and the switch whose rule is blamed), edits and deploys
flow files, submits with 100%; the instructor's dashboard shows the result without a reload;
an admin changes the trainee's role on the admin page, and disables and enables the
instructor. Screenshots of the main pages go to build/screenshots/ (docs/img/ under `make screenshots`).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from classroom_client import ANSWER_MS, LIVE_MS, open_classroom, served
from screenshots import screenshot_dir

from sdnlab.labs import live
from sdnlab.labs.loader import load_lab

pytestmark = [pytest.mark.network, pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"
SHOTS = screenshot_dir()  # docs/img/ under `make screenshots`
LAB = "smart_meters"
SCREEN = (
    "() => { const b = window.classroomTerminal.buffer.active; let s = '';"
    " for (let i = 0; i < b.length; i++) s += b.getLine(i).translateToString(true) + '\\n';"
    " return s; }"
)


@pytest.fixture(scope="module")
def server():
    """``sdnlab serve`` on a free port with an instructor and an admin account."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (tools/setup.sh installs it)")
    if not (Path(__file__).resolve().parents[3] / "classroom/static/vendor/xterm.js").exists():
        pytest.skip("xterm.js is not installed (tools/setup.sh installs it from npm)")
    with served({"iris": "instructor", "ada": "admin"}, "cb" + secrets.token_hex(2)) as (url, state):
        yield url, state


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"classroom-{name}.png"), full_page=False)


def login(page, url, user, password):
    open_classroom(page, url)
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
        expect(instructor.locator("#sessions")).to_be_visible(timeout=ANSWER_MS)
        instructor.fill("#class-name", "spring")
        instructor.click("#create-class")
        expect(instructor.locator("#toast")).to_have_text("ok", timeout=ANSWER_MS)
        instructor.fill("#csv", "username,password,class\ntina,password-tina,spring\n")
        instructor.click("#import")
        expect(instructor.locator("#toast")).to_have_text("tina", timeout=ANSWER_MS)

        trainee = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        trainee.goto(url + "/")
        shot(trainee, "login")
        login(trainee, url, "tina", "password-tina")
        expect(trainee.locator("#catalogue")).to_be_visible(timeout=ANSWER_MS)
        shot(trainee, "catalogue")
        trainee.click(f"[data-start={LAB}]")
        expect(trainee.locator("#terminal .xterm")).to_be_visible(timeout=LIVE_MS)

        # the topology: every host and switch of the lab, links with their ports, switches running
        # (lab 3 has no controller: the switches run the trainee's flow files)
        topology = live.load_topology(load_lab(LAB))
        expect(trainee.locator("#topology svg .host")).to_have_count(len(topology.hosts()), timeout=ANSWER_MS)
        expect(trainee.locator("#topology svg .switch.ready")).to_have_count(
            len(topology.switches()), timeout=LIVE_MS
        )
        expect(trainee.locator("#topology svg .link")).to_have_count(len(topology.links))
        expect(trainee.locator('#topology [data-node="hes"]')).to_contain_text("10.2.0.1")

        # the terminal: ovs-ofctl on the trainee's own switch
        trainee.click("#terminal")
        trainee.keyboard.type("ovs-ofctl dump-flows core\n")
        trainee.wait_for_function(f"() => ({SCREEN})().includes('cookie=0x0')", timeout=LIVE_MS)
        assert "actions=" in trainee.evaluate(SCREEN)

        # a first check on the starter shows a counterexample, drawn on the topology
        trainee.click("#check")
        expect(trainee.locator("#score")).to_be_visible(timeout=LIVE_MS)
        expect(trainee.locator("#feedback .fail").first).to_be_visible()
        expect(trainee.locator("#feedback pre").first).to_contain_text("->")
        caption = trainee.locator("#path-caption")
        expect(caption).to_contain_text("blamed rule")
        src, dst = caption.locator("b").first.inner_text().split(" → ")
        expect(trainee.locator(f'#topology .host.hit.end[data-node="{src}"]')).to_be_visible()
        expect(trainee.locator(f'#topology .host.end[data-node="{dst}"]')).to_be_visible()
        blamed = trainee.locator("#topology .switch.blamed")
        expect(blamed).to_have_count(1)
        expect(caption).to_contain_text(blamed.get_attribute("data-node") + " flows/")
        assert trainee.locator("#topology .link.hit").count() >= 2, "from the source host to a switch and on"
        trainee.locator("#topology").evaluate("el => el.parentElement.scrollIntoView({block: 'start'})")
        shot(trainee, "lab")
        # another failed check's button draws that check's path
        trainee.locator("[data-path]").last.click()
        expect(caption).to_be_visible()

        # edit and deploy every flow file, then check and submit
        for path in sorted(solution.iterdir()):
            trainee.select_option("#files", f"flows/{path.name}")
            starter = load_lab(LAB).starter_dir / "flows" / path.name
            # the file is loaded (read from her sandbox)
            expect(trainee.locator("#editor")).to_have_value(starter.read_text(), timeout=ANSWER_MS)
            trainee.fill("#editor", path.read_text())
            trainee.click("#deploy")
            expect(trainee.locator("#toast")).to_have_text("Saved and deployed", timeout=LIVE_MS)
            trainee.locator("#toast").evaluate("el => { el.hidden = true; el.textContent = ''; }")
        trainee.click("#check")
        expect(trainee.locator("#score")).to_have_text("100%", timeout=LIVE_MS)
        trainee.click("#submit")
        expect(trainee.locator("#feedback")).to_contain_text("hidden checks passed", timeout=LIVE_MS)
        feedback = trainee.locator("#feedback").inner_text()
        assert trainee.locator("#score").inner_text() == "100%", feedback  # live ping probes included
        expect(trainee.locator("#topology .hit")).to_have_count(0)  # nothing failed: no path drawn

        # the instructor's open dashboard picks the result up without a reload
        expect(instructor.locator('[data-result="tina"] .percent')).to_have_text("100", timeout=ANSWER_MS)
        expect(instructor.locator('[data-user="tina"] .last')).to_have_text("100")
        # the drill-down: the trainee's files and last report, hidden checks included
        instructor.click('[data-user="tina"] [data-drill]')
        expect(instructor.locator("#drill")).to_contain_text("(hidden)", timeout=ANSWER_MS)
        expect(instructor.locator("#drill-file")).to_contain_text("priority=")
        shot(instructor, "dashboard")

        # an admin sees the running sandbox and makes the trainee an instructor
        admin = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        login(admin, url, "ada", "password-ada")
        admin.click("#nav >> text=Admin")  # at once: the dashboard still loading must not draw over it
        expect(admin.locator("#running")).to_have_text("1", timeout=ANSWER_MS)
        expect(admin.locator("#settings")).to_contain_text("max_sandboxes")
        expect(admin.locator('[data-account="tina"] .account-state')).to_have_text(
            "enabled", timeout=ANSWER_MS
        )
        admin.select_option('[data-role="tina"]', "instructor")
        expect(admin.locator("#toast")).to_contain_text("tina: instructor", timeout=ANSWER_MS)
        # as the server answers now
        expect(admin.locator('[data-role="tina"]')).to_have_value("instructor", timeout=ANSWER_MS)
        shot(admin, "admin")
        admin.click('[data-toggle="iris"]')  # disable and enable the instructor again
        expect(admin.locator('[data-account="iris"] .account-state')).to_have_text(
            "disabled", timeout=ANSWER_MS
        )
        admin.click('[data-toggle="iris"]')
        expect(admin.locator('[data-account="iris"] .account-state')).to_have_text(
            "enabled", timeout=ANSWER_MS
        )
        trainee.reload()
        expect(trainee.locator("#who")).to_have_text("tina (instructor)", timeout=ANSWER_MS)
        expect(trainee.locator("#nav")).to_contain_text("Dashboard")

        trainee.goto(url + "/#/labs")
        expect(trainee.locator("#catalogue")).to_be_visible(timeout=ANSWER_MS)
        trainee.goto(url + f"/#/lab/{LAB}")
        expect(trainee.locator("#topology svg")).to_be_visible(timeout=ANSWER_MS)
        trainee.click("#stop")  # at once: the buttons work while the page still loads the files
        expect(trainee.locator("#catalogue")).to_be_visible(timeout=LIVE_MS)
        expect(admin.locator("#running")).to_have_text("0", timeout=ANSWER_MS)  # the capacity view refreshes
        browser.close()


def test_the_instructor_sees_a_trainees_failed_check_drawn_and_validates_a_lab_live(server):
    """The drill-down draws the trainee's lab and last check's path with the trainee page's code
    (topology.js); the validate page runs ``lab validate`` in a sandbox of the server and shows
    every item passed."""
    from playwright.sync_api import expect, sync_playwright

    url, _state = server
    lab = "static_flows"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        # set-up through the API: a class, a trainee, her lab and a failing check on the starter
        iris, uma, token = instructor_and_trainee(browser, url, "summer", "uma")
        started = uma.request.post(url + f"/api/labs/{lab}/start", headers=token, timeout=LIVE_MS)
        assert started.ok, started.text()
        checked = uma.request.post(url + "/api/session/check", headers=token, timeout=LIVE_MS).json()
        failed = [c for c in checked["checks"] if not c["passed"] and c["paths"]]
        assert failed, checked
        assert uma.request.get(url + f"/api/class/sessions/{started.json()['id']}/topology").status == 403

        page = iris.new_page()
        page.set_viewport_size({"width": 1400, "height": 1000})
        page.goto(url + "/#/dashboard")
        page.click('[data-user="uma"] [data-drill]')
        drawing = page.locator("#drill-topology")
        topology = live.load_topology(load_lab(lab))
        expect(drawing.locator("svg .host")).to_have_count(len(topology.hosts()), timeout=ANSWER_MS)
        expect(drawing.locator("svg .link")).to_have_count(len(topology.links))
        caption = drawing.locator("#path-caption")
        expect(caption).to_contain_text("blamed rule")
        src, dst = caption.locator("b").first.inner_text().split(" → ")
        expect(drawing.locator(f'.host.hit.end[data-node="{src}"]')).to_be_visible()
        expect(drawing.locator(f'.host.end[data-node="{dst}"]')).to_be_visible()
        expect(drawing.locator(".switch.blamed")).to_have_count(1)
        assert drawing.locator(".link.hit").count() >= 2
        page.locator("[data-drill-path]").last.click()  # another failed check's path
        expect(caption).to_be_visible()
        page.locator("#drill").scroll_into_view_if_needed()
        shot(page, "drill-down")

        # the validate page: the live validation of a catalogue lab in its own sandbox
        page.click("#nav >> text=Validate labs")
        page.select_option("#validate-lab", lab)
        page.click("#validate-start")
        expect(page.locator("#validation-state")).to_have_text("done", timeout=LIVE_MS)
        expect(page.locator("#validation-verdict")).to_have_text("OK")
        expect(page.locator("#solution-percent")).to_have_text("100%")
        expect(page.locator('#validation-items [data-item="solution"] .pass')).to_have_text("PASS")
        expect(page.locator("#validation")).to_contain_text("live, in a local sandbox")
        expect(page.locator("[data-job] .job-state").first).to_have_text("done")
        shot(page, "validate")
        job = iris.request.get(url + "/api/validations").json()["jobs"][0]
        print("validation steps:", job["steps"])  # where the time goes (pytest -s)
        uma.request.post(url + "/api/session/stop", headers=token, timeout=LIVE_MS)
        browser.close()


def test_the_instructor_sees_where_a_failed_spread_probe_sent_the_streams(server):
    """A live probe other than ping or tcp drawn in the drill-down: lab 4's ``spread`` probe fails on
    the starter (every stream leaves acc1 on the agg1 uplink); the drawing follows the streams of a
    camera through the flow tables, blames acc1's rule and leaves agg2 untouched."""
    from playwright.sync_api import expect, sync_playwright

    url, _state = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        iris, vic, mine = instructor_and_trainee(browser, url, "autumn", "vic")
        started = vic.request.post(url + "/api/labs/camera_4k/start", headers=mine, timeout=LIVE_MS)
        assert started.ok, started.text()
        try:
            checked = vic.request.post(url + "/api/session/check", headers=mine, timeout=LIVE_MS).json()
            [spread] = [c for c in checked["checks"] if c["id"] == "uplinks-share-live"]
            assert not spread["passed"] and spread["paths"], spread
            assert all(p["outcome"] == "delivered to an1" for p in spread["paths"]), spread["paths"]

            page = iris.new_page()
            page.set_viewport_size({"width": 1400, "height": 1000})
            page.goto(url + "/#/dashboard")
            page.click('[data-user="vic"] [data-drill]')
            drawing = page.locator("#drill-topology")
            page.locator("[data-drill-path]", has_text="uplinks-share-live").click()
            caption = drawing.locator("#path-caption")
            expect(caption).to_contain_text("→ 10.40.0.100", timeout=ANSWER_MS)
            expect(caption).to_contain_text("delivered to an1")
            expect(caption).to_contain_text("blamed rule: acc1 flows/acc1.flows:")
            for node in ("acc1", "agg1", "cloud", "an1"):
                expect(drawing.locator(f'.node.hit[data-node="{node}"]')).to_have_count(1)
            expect(drawing.locator('.node.hit[data-node="agg2"]')).to_have_count(0)
            expect(drawing.locator(".switch.blamed")).to_have_attribute("data-node", "acc1")
            src = caption.locator("b").first.inner_text().split(" → ")[0]
            expect(drawing.locator(f'.host.hit.end[data-node="{src}"]')).to_be_visible()
            assert drawing.locator(".link.hit").count() == 4  # camera-acc1, acc1-agg1, agg1-cloud, cloud-an1
            page.locator("#drill").scroll_into_view_if_needed()
            shot(page, "drill-down-spread")
        finally:
            vic.request.post(url + "/api/session/stop", headers=mine, timeout=LIVE_MS)
            browser.close()


def instructor_and_trainee(browser, url: str, klass: str, trainee: str):
    """Through the API: instructor iris logs in, makes class ``klass`` with ``trainee`` in it, and
    the trainee logs in. Returns iris's browser context, the trainee's, and the trainee's CSRF header."""

    def login(name: str):
        context = browser.new_context()
        reply = context.request.post(
            url + "/api/login", data={"username": name, "password": f"password-{name}"}
        )
        return context, {"X-CSRF-Token": reply.json()["csrf_token"]}

    iris, csrf = login("iris")
    iris.request.post(url + "/api/classes", data={"name": klass}, headers=csrf)
    made = iris.request.post(
        url + "/api/users",
        data={"username": trainee, "password": f"password-{trainee}", "class": klass},
        headers=csrf,
    )
    assert made.ok, made.text()
    context, header = login(trainee)
    return iris, context, header
