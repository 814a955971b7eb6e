"""The exam UI in a real browser (Debian's chromium through Playwright) against the classroom app.

The app runs in uvicorn on the workspace backend (real files, static grading: the exam's tasks
are flow-file labs). An instructor schedules an exam from the Exams panel; a trainee starts
another one, sees the tasks and the countdown, checks, is told when time is up and then sees the
result; the instructor sees the result in the exam's results table. A screenshot goes to
build/screenshots/.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from classroom_client import ANSWER_MS, LIVE_MS, end_attempt_at, open_classroom
from screenshots import screenshot_dir
from waiting import wait_for

from sdnlab.classroom import accounts
from sdnlab.classroom.app import Settings, create_app
from sdnlab.classroom.db import default_url, open_database
from sdnlab.classroom.runner import LocalRunner

pytestmark = [pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"
SHOTS = screenshot_dir()  # docs/img/ under `make screenshots`


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    import uvicorn

    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (tools/setup.sh installs it)")
    factory = open_database(default_url(tmp_path))
    with factory.begin() as db:
        accounts.add_user(db, accounts.check_new_user("iris", "password-iris", "instructor", "spring"))
        accounts.add_user(db, accounts.check_new_user("tina", "password-tina", "trainee", "spring"))
    backend = LocalRunner(tmp_path / "sandboxes", network=False)
    app = create_app(factory, backend, Settings(exam_tick_s=0.5, state_dir=tmp_path / "web"))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 60, "the app serving")  # a busy host starts it slowly
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=30)


def login(page, url, user):
    open_classroom(page, url)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", f"password-{user}")
    page.click("button[type=submit]")


def login_and_see_exams(page, url, user):
    """Log in and wait for the Exams link (exam.js shows it at its next 1 s tick); when it never
    shows, the failure names the script errors and failed requests the page met."""
    from playwright.sync_api import expect

    trouble: list[str] = []
    page.on("pageerror", lambda error: trouble.append(f"script error: {error}"))
    page.on("requestfailed", lambda request: trouble.append(f"{request.url}: {request.failure}"))
    login(page, url, user)
    try:
        expect(page.locator("#exams-link")).to_be_visible(timeout=ANSWER_MS)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nthe page met: {trouble}") from None


def test_an_exam_in_the_browser_schedule_start_countdown_time_up_result(served):
    from playwright.sync_api import expect, sync_playwright

    url, app = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        iris = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        login(iris, url, "iris")
        iris.click("#exams-link")
        iris.fill("#exam-form input[name=class]", "spring")
        iris.click("#exam-form button")
        expect(iris.locator("#exam-scheduled tr")).to_have_count(1, timeout=ANSWER_MS)
        # a second exam, open for an hour: no step of hers races its clock on a busy host; her
        # time is ended below, once she has checked
        room = app.state.room
        with room.factory() as db:
            from sdnlab.classroom.db import ExamAttempt, User

            user = db.query(User).filter_by(username="iris").one()
            now = time.time()
            second = room.proctor.schedule(
                db, user, "quick_openflow", "spring", now - 60, now + 3600, None, None, None, now
            )

        tina = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        login_and_see_exams(tina, url, "tina")
        tina.click("#exams-link")
        tina.click(f"[data-start='{second.id}']")
        expect(tina.locator("#exam-countdown")).to_contain_text("left", timeout=LIVE_MS)
        expect(tina.locator("[data-task]")).to_have_count(2)
        expect(tina.locator("#exam-timeup")).to_be_hidden()
        tina.click("#exam-text summary")
        expect(tina.locator("#exam-text")).to_contain_text("h1")  # the task text of her variant
        first = tina.locator("#exam-countdown").inner_text()
        tina.wait_for_timeout(2000)
        assert tina.locator("#exam-countdown").inner_text() != first, "the countdown runs"
        tina.screenshot(path=str(SHOTS / "classroom-exam.png"))
        tina.click("#exam-check")
        expect(tina.locator("#exam-out")).to_contain_text("%", timeout=LIVE_MS)  # graded in a subprocess

        # her time ends in 15 s: her page learns the new deadline at its next refresh (every 10 s),
        # counts down to it, and the exam clock submits at it
        with room.factory() as db:
            attempt_id = db.query(ExamAttempt).filter_by(scheduled_id=second.id).one().id
        end_attempt_at(room, attempt_id, time.time() + 15)
        expect(tina.locator("#exam-timeup")).to_be_visible(timeout=LIVE_MS)  # told, then the result
        expect(tina.locator("#exam-result")).to_be_visible(timeout=LIVE_MS)
        expect(tina.locator("#exam-timeup")).to_contain_text("automatically")
        assert "%" in tina.locator("#exam-result").inner_text()

        iris.click("#exams-link")  # close and reopen: the list is fresh
        iris.click("#exams-link")
        iris.click(f"[data-results='{second.id}']")
        expect(iris.locator("#exam-results-table")).to_contain_text("tina", timeout=ANSWER_MS)
        expect(iris.locator("#exam-results-table")).to_contain_text("submitted")
        browser.close()


def test_a_cancel_in_the_browser_closes_the_trainees_attempt_and_a_passed_exam_links_its_pdfs(served):
    """The instructor cancels a running exam from the Exams panel (confirming); the trainee's bar
    says so at its next refresh. A passed exam then shows the PDF links (English and Japanese),
    which answer PDFs with her name (fetched with the browser's own login)."""
    import pdfcheck
    from playwright.sync_api import expect, sync_playwright

    from sdnlab.classroom.db import ExamAttempt, User

    pdfcheck.need_tools()
    url, app = served
    room = app.state.room
    with room.factory() as db:
        iris_user = db.query(User).filter_by(username="iris").one()
        now = time.time()
        first = room.proctor.schedule(
            db, iris_user, "quick_openflow", "spring", now - 60, now + 3600, None, None, None, now
        )
        second = room.proctor.schedule(
            db, iris_user, "quick_openflow", "spring", now - 60, now + 3600, None, None, None, now
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tina = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        login_and_see_exams(tina, url, "tina")
        tina.click("#exams-link")
        tina.click(f"[data-start='{first.id}']")
        expect(tina.locator("#exam-countdown")).to_contain_text("left", timeout=LIVE_MS)

        iris = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        login(iris, url, "iris")
        iris.click("#exams-link")
        iris.on("dialog", lambda dialog: dialog.accept())
        iris.click(f"[data-cancel='{first.id}']")
        expect(iris.locator("#exam-scheduled")).to_contain_text("cancelled", timeout=LIVE_MS)  # stops her lab
        expect(tina.locator(".exam-cancelled")).to_be_visible(timeout=ANSWER_MS)  # her bar polls every 10 s
        expect(tina.locator(".exam-cancelled")).to_contain_text("cancelled")
        expect(tina.locator("#exam-submit")).to_have_count(0)

        tina.click("#exams-link")
        tina.click(f"[data-start='{second.id}']")
        expect(tina.locator("#exam-countdown")).to_contain_text("left", timeout=LIVE_MS)
        with room.factory() as db:
            attempt = db.query(ExamAttempt).filter_by(scheduled_id=second.id).one()
            iris_user = db.query(User).filter_by(username="iris").one()
            room.proctor.solve(db, attempt, iris_user, time.time())
        tina.on("dialog", lambda dialog: dialog.accept())
        tina.click("#exam-submit")
        expect(tina.locator("#exam-result")).to_contain_text("100", timeout=LIVE_MS)  # graded at submit
        links = tina.locator("#exam-panel a.cert-pdf")
        expect(links).to_have_count(2)
        for index, lang in enumerate(("en", "ja")):
            href = links.nth(index).get_attribute("href")
            assert href == f"/api/me/certificates/{attempt.id}/pdf?lang={lang}"
            answer = tina.context.request.get(url + href)
            assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
            assert "tina" in pdfcheck.text(answer.body()).split()
        browser.close()
