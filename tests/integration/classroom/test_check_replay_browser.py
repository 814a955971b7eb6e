"""The trainee's browser shows that Check graded lab 2 by replay, with the messages that went wrong.

Debian's chromium (Playwright) against the real ``sdnlab serve``: the trainee starts lab 2,
presses Check on the starter app and reads, above the checks, "Checked by replay" and the
finding "A repeated ping still reached the controller" with the packet-in, the app's reply on
the next line and the app line that sent it; the same page in Japanese says リプレイで採点.
The screenshot, classroom-check-replay.png, goes to build/screenshots/ (docs/img/ under `make screenshots`).
"""

from __future__ import annotations

import os
import secrets

import pytest
from classroom_client import ANSWER_MS, LIVE_MS, served
from screenshots import screenshot_dir

pytestmark = [pytest.mark.network, pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"
SHOTS = screenshot_dir()  # docs/img/ under `make screenshots`


def test_the_check_result_says_replay_and_shows_the_message_sequence_in_english_and_japanese():
    from playwright.sync_api import expect, sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (tools/setup.sh installs it)")
    with (
        served({"remy": "trainee"}, "rb" + secrets.token_hex(2)) as (url, _state),
        sync_playwright() as p,
    ):
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.goto(url + "/")
        page.fill("input[name=username]", "remy")
        page.fill("input[name=password]", "password-remy")
        page.click("button[type=submit]")
        page.click("[data-start=l2_learning]")
        expect(page.locator("#check")).to_be_visible(timeout=LIVE_MS)

        page.click("#check")
        method = page.locator("#checked-by")
        expect(method).to_contain_text("Checked by replay: your app l2_switch.py", timeout=LIVE_MS)
        expect(page.locator("#score")).to_have_text("50%")
        finding = method.locator('[data-finding="flows-before-second-packet"]')
        expect(finding).to_contain_text("A repeated ping still reached the controller")
        messages = finding.locator("pre").inner_text()
        assert "PACKET_IN" in messages and "\n    => PACKET_OUT" in messages, messages
        assert "[l2_switch.py:" in messages, messages
        method.scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "classroom-check-replay.png"))

        page.click("#lang")
        expect(page.locator("#check")).to_be_visible(timeout=ANSWER_MS)
        page.click("#check")
        expect(page.locator("#checked-by")).to_contain_text("リプレイで採点しました", timeout=LIVE_MS)
        expect(page.locator('[data-finding="flows-before-second-packet"]')).to_contain_text(
            "2 回目の ping もコントローラーに届きました"
        )
        page.click("#stop")
        expect(page.locator("#catalogue")).to_be_visible(timeout=LIVE_MS)
        browser.close()
