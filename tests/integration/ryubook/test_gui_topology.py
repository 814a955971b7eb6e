"""The topology viewer (``ryu.app.gui_topology``) on a real lab, in a real browser.

A three-switch Mininet lab runs the viewer with ``simple_switch_13`` and link discovery. The
page is refused without the lab's token and served with it (one self-contained page: no
external script or style, a Content-Security-Policy). Its sources answer the lab's switches,
links and hosts, and in Debian's chromium (Playwright) the page draws them and follows the
websocket: a switch that drops its controller connection disappears and comes back with its
links.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest
from waiting import wait_for

from sdnlab.controller import rest_client
from sdnlab.runtime import api, paths

pytestmark = pytest.mark.network

LAB = "t-rb-gui"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def lab():
    state = api.up(
        "linear",
        {"switches": 3},
        name=LAB,
        controller="app:ryu.app.gui_topology,ryu.app.simple_switch_13",
        observe_links=True,
    )
    try:
        yield state
    finally:
        api.down(LAB)


def base(state: dict) -> str:
    return f"http://127.0.0.1:{state['controller']['rest_port']}"


def token() -> str:
    value = rest_client.read_token(paths.lab_dir(LAB))
    assert value
    return value


def get(state: dict, path: str, headers: dict | None = None):
    request = urllib.request.Request(base(state) + path, headers=headers or {})
    return urllib.request.urlopen(request, timeout=10)


def until(page, expression: str, timeout: float) -> None:
    """Poll ``expression`` in the page (evaluated by the browser, not by the page's CSP-bound eval)."""
    wait_for(lambda: page.evaluate(expression), timeout, expression)


def link_pairs(links: list[dict]) -> set[tuple[int, int]]:
    return {(int(link["src"]["dpid"], 16), int(link["dst"]["dpid"], 16)) for link in links}


@pytest.fixture(scope="module")
def discovered(lab):
    """The lab once its links and hosts are known to the controller (hosts after a ping each)."""
    auth = {"Authorization": f"Bearer {token()}"}

    def links():
        return json.loads(get(lab, "/v1.0/topology/links", auth).read())

    wait_for(lambda: link_pairs(links()) == {(1, 2), (2, 1), (2, 3), (3, 2)}, 30, "every link discovered")
    ips = [h["ip"] for h in lab["hosts"]]
    for host in ("h1", "h2", "h3"):
        api.run_in(LAB, host, ["ping", "-c", "1", "-W", "1", ips[0] if host != "h1" else ips[1]], timeout=10)
    hosts = wait_for(
        lambda: (h := json.loads(get(lab, "/v1.0/topology/hosts", auth).read())) and len(h) >= 3 and h,
        20,
        "every host seen",
    )
    return lab, hosts


def test_the_page_needs_the_labs_token_and_is_self_contained(lab):
    with pytest.raises(urllib.error.HTTPError) as refused:
        get(lab, "/")
    assert refused.value.code == 401
    answer = get(lab, f"/?token={token()}")
    page = answer.read().decode()
    assert answer.headers["Content-Type"].startswith("text/html")
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'nonce-" in policy
    assert "<script nonce=" in page and "/v1.0/topology/ws" in page
    assert "src=" not in page.replace("data-", "") and "https://" not in page, "no external scripts (no CDN)"


def test_the_pages_sources_answer_the_labs_switches_links_and_hosts(discovered):
    lab, hosts = discovered
    auth = {"Authorization": f"Bearer {token()}"}
    switches = json.loads(get(lab, "/v1.0/topology/switches", auth).read())
    assert sorted(int(s["dpid"], 16) for s in switches) == [1, 2, 3]
    macs = {h["mac"] for h in hosts}
    assert {h["mac"] for h in lab["hosts"]} <= macs
    attached = {h["mac"]: (int(h["port"]["dpid"], 16), int(h["port"]["port_no"], 16)) for h in hosts}
    for i, host in enumerate(sorted(lab["hosts"], key=lambda h: h["name"]), start=1):
        assert attached[host["mac"]] == (i, 1)  # h_i hangs off port 1 of s_i


def test_in_a_browser_the_page_draws_the_lab_and_follows_changes(discovered):
    lab, _hosts = discovered
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (tools/setup.sh installs it)")
    from playwright.sync_api import sync_playwright

    bridge = next(s["bridge"] for s in lab["switches"] if s["name"] == "s3")
    target = subprocess.run(
        ["ovs-vsctl", "get-controller", bridge], capture_output=True, text=True, check=True
    ).stdout.split()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{base(lab)}/?token={token()}")
            until(page, "window.sdnlabTopology && window.sdnlabTopology.loaded === true", 15)
            page.wait_for_selector("#status.live", timeout=15000)
            drawn = page.eval_on_selector_all("g.switch", "gs => gs.map(g => g.dataset.dpid)")
            assert sorted(int(d, 16) for d in drawn) == [1, 2, 3]
            assert sorted(page.eval_on_selector_all("line.link", "ls => ls.map(l => l.dataset.link)")) == [
                "0000000000000001-0000000000000002",
                "0000000000000002-0000000000000003",
            ]
            assert page.locator("g.host").count() >= 3
            assert "3 switches, 2 links" in page.inner_text("#counts")

            subprocess.run(["ovs-vsctl", "del-controller", bridge], check=True)
            until(page, "document.querySelectorAll('g.switch').length === 2", 20)
            subprocess.run(["ovs-vsctl", "set-controller", bridge, *target], check=True)
            until(
                page,
                "document.querySelectorAll('g.switch').length === 3 && "
                "document.querySelectorAll('line.link').length === 2",
                30,
            )
            events = page.evaluate("window.sdnlabTopology.events")
            assert {"event_switch_leave", "event_switch_enter", "event_link_add"} <= set(events), events
            assert not errors, errors
        finally:
            browser.close()
