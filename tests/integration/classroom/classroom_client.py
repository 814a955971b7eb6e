"""For the tests that run real sandboxes: serving a real classroom, driving its API as a trainee does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

# How long a browser test waits for the server. Playwright's defaults (5 s for an ``expect``, 30 s
# for a request of ``context.request``) suit a page drawing what it has, not a server at work on a
# loaded 2-core CI host, where other tests run labs at the same time. The first wait after each
# action that makes the server work gets one of these; what is drawn from the same answer after it
# needs no more.
LIVE_MS = 240_000  # a sandbox's work: a lab started or stopped, a live check, deploy, submit, validation
ANSWER_MS = 30_000  # a quick answer (log-in, a database write, a file read) or a page's polling seeing it


def open_classroom(page, url: str) -> None:
    """Load the app's page until both its scripts ran: Chromium aborts requests in flight when the
    host's network interfaces change (``net::ERR_NETWORK_CHANGED``: other tests' labs come and go
    on this host), and a page that lost exam.js never shows the Exams link."""
    for _ in range(5):
        page.goto(url + "/")
        if page.evaluate("() => typeof route === 'function' && typeof tick === 'function'"):
            return
    raise AssertionError(f"{url}/: app.js or exam.js failed to load five times")


def end_attempt_at(room, attempt_id: int, moment: float) -> None:
    """Make a running exam attempt's time end at ``moment``: its deadline where the product keeps it
    (the attempt's row, which the exam clock reads at every tick and every exam step checks).

    Tests give an exam a window far longer than their steps take, so that no step races the
    clock on a loaded host, then end the attempt once those steps are done."""
    from sdnlab.classroom.db import ExamAttempt

    with room.factory.begin() as db:
        attempt = db.get(ExamAttempt, attempt_id)
        assert attempt is not None and attempt.status == "running", attempt
        attempt.deadline = moment


def login(app, name):
    client = TestClient(app)
    answer = client.post("/api/login", json={"username": name, "password": f"password-{name}"})
    client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return client


def terminal(client, *commands: str) -> list[str]:
    """Type ``commands`` into the client's lab terminal; the output of each (up to the next prompt)."""
    cookie = client.cookies.get("sdnlab_session")
    outputs = []
    with client.websocket_connect(
        "/api/session/terminal", headers={"cookie": f"sdnlab_session={cookie}"}
    ) as ws:
        screen = ""
        for command in ("", *commands):
            if command:
                ws.send_text(json.dumps({"type": "input", "data": command + "\n"}))
            deadline = time.time() + 60
            while not screen.rstrip().endswith("]$") and time.time() < deadline:
                screen += ws.receive_bytes().decode(errors="replace")
            if command:
                outputs.append(screen.split(command, 1)[-1].rsplit("\n", 1)[0])
            screen = ""
        ws.send_text(json.dumps({"type": "input", "data": "exit\n"}))
    return outputs


def wait_for_agent(socket: Path, proc: subprocess.Popen, log: Path) -> None:
    """Until the agent ``proc`` listens on ``socket``: a busy host starts Python slowly (up to 90 s);
    its log when it exits first or never does."""
    from waiting import wait_for

    wait_for(
        lambda: socket.exists() or proc.poll() is not None,
        90,
        f"the agent listening on {socket}",
        detail=lambda: log.read_text()[-2000:],
    )
    assert proc.poll() is None, f"the agent exited ({proc.returncode}): {log.read_text()[-2000:]}"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(users: dict[str, str], prefix: str) -> Iterator[tuple[str, Path]]:
    """``sdnlab serve`` (the real command: root starts the agent, the web process drops to
    ``nobody``) on a free port with a fresh state folder and ``users`` (name -> role, password
    ``password-NAME``); yields its URL and state folder, and takes sandboxes named ``PREFIX1..3`` down."""
    state = Path(tempfile.mkdtemp(prefix="sdnlab-classroom-"))
    os.chmod(state, 0o755)  # the web process runs as nobody
    sdnlab = [sys.executable, "-m", "sdnlab.cli"]
    for name, role in users.items():
        subprocess.run(
            [*sdnlab, "users", "add", name, "--role", role, "--state", str(state)],
            input=f"password-{name}\n", text=True, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    port = free_port()
    log = open(state / "serve.log", "w")  # noqa: SIM115  # kept open for the server's lifetime
    proc = subprocess.Popen(
        [*sdnlab, "serve", "--state", str(state), "--port", str(port), "--sandbox-prefix", prefix],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90  # a busy host (other labs, a type check) starts it slowly
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log_text = (state / "serve.log").read_text()[-2000:]
                    raise RuntimeError(
                        f"sdnlab serve did not come up (exit {proc.poll()}): {log_text}"
                    ) from None
                time.sleep(0.2)
        yield url, state
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
        # the agent stops when the server goes; sandboxes of this run are taken down by it or here
        for n in (1, 2, 3):
            subprocess.run([*sdnlab, "down", "--name", f"{prefix}{n}"], capture_output=True, timeout=120)
        if (state / "agent" / "ns").is_dir():  # own-ovs sandboxes (the default isolation)
            from sdnlab.classroom.backends.namespaces import NamespaceBackend

            sandboxes = NamespaceBackend(state / "agent")
            for sandbox in sandboxes.sandboxes():
                sandboxes.stop(sandbox)
        shutil.rmtree(state, ignore_errors=True)
