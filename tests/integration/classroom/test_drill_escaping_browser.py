"""What a trainee's sandbox reports is drawn as text on the instructor's drill-down, never as HTML.

A trainee controls their running lab, so the drill-down's link ports, attempt kinds, percents,
case counts, a path's cut links and why a check has no path may carry markup. The real page
(index.html, topology.js, app.js) runs in chromium; the page's API answers are served from this
test with such values, and the drill-down must show them as text and run none of them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"
STATIC = Path(__file__).resolve().parents[3] / "classroom/static"
ORIGIN = "http://classroom.test"
BAD = '<img src=x onerror="window.pwned=1">'

SESSION = {
    "user": "uma",
    "lab": "static_flows",
    "state": "running",
    "attempts": [{"kind": BAD, "percent": BAD}],
    "files": [],
    "last_report": {
        "percent": BAD,
        "checks": [
            {"id": "c1", "passed": False, "hidden": False, "passed_cases": BAD, "cases": BAD, "details": []}
        ],
    },
}
DRAWING = {
    "topology": {
        "phase": "ready",
        "controller": "none",
        "hosts": [{"name": "h1", "ip": "10.0.0.1"}, {"name": "h2", "ip": "10.0.0.2"}],
        "switches": [{"name": "s1", "connected": True}],
        "links": [
            {"a": "h1", "b": "s1", "a_port": BAD, "b_port": BAD},
            {"a": "s1", "b": "h2", "a_port": BAD, "b_port": 2},
        ],
    },
    "attempt": {"kind": BAD, "percent": BAD},
    "checks": [
        {  # a failover check's path: the links it cut come from the report too
            "id": "f1",
            "passed": False,
            "hidden": True,
            "paths": [
                {
                    "src": "h1",
                    "dst": "h2",
                    "hops": [{"switch": "s1", "in_port": 1, "out_port": None}],
                    "outcome": "lost (s1 port 2: link down)",
                    "blame": None,
                    "down": [[BAD, "s1"], ["s1", "h2"]],
                }
            ],
        },
        {"id": "q1", "passed": False, "hidden": False, "paths": [], "no_path": BAD},  # why nothing is drawn
    ],
}


def _answer(route):
    path = route.request.url.removeprefix(ORIGIN).split("?")[0]
    if path in ("/", "/index.html"):
        return route.fulfill(path=str(STATIC / "index.html"))
    if path.startswith("/static/"):
        local = STATIC / path.removeprefix("/static/")
        if local.is_file():
            return route.fulfill(path=str(local))
    if path == "/api/class/sessions/7":
        return route.fulfill(json=SESSION)
    if path == "/api/class/sessions/7/topology":
        return route.fulfill(json=DRAWING)
    return route.fulfill(status=401, content_type="application/json", body=json.dumps({"error": "log in"}))


def test_markup_in_a_sandbox_status_is_shown_as_text_on_the_drill_down():
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (tools/setup.sh installs it)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.route(f"{ORIGIN}/**", _answer)
        page.goto(ORIGIN + "/")
        page.evaluate(
            "() => { const d = document.createElement('div'); d.id = 'drill'; document.body.append(d); }"
        )
        page.evaluate("() => drill(7)")
        drill = page.locator("#drill")
        expect(drill.locator("#drill-topology svg .link")).to_have_count(2)
        assert drill.locator("img").count() == 0
        assert page.evaluate("() => window.pwned") is None
        assert BAD in drill.locator("#drill-topology svg .link title").first.text_content()
        assert BAD in drill.locator("#drill-topology svg text.port").first.text_content()
        assert f"{BAD} {BAD}%" in drill.inner_text()  # the attempt
        assert f"{BAD}/{BAD}" in drill.inner_text()  # the check's cases
        assert f"cut: {BAD}-s1, s1-h2" in drill.locator("#path-caption").inner_text()  # the cut links
        expect(drill.locator("#drill-topology svg .link.cut")).to_have_count(1)  # s1-h2: h1-s1 is no cut
        assert f"not drawn: {BAD}" in drill.locator('#drill-nopaths [data-nopath="q1"]').inner_text()
        browser.close()
