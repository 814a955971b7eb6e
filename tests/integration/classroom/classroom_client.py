"""Driving the classroom API as a trainee does, for the tests that run real sandboxes."""

from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient


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
