"""Fixtures: a real database for every classroom test, SQLite always and PostgreSQL when installed.

The PostgreSQL cluster is a throw-away one: ``initdb`` in a temporary folder, run by the
``postgres`` system user on a free port, stopped and removed at the end of the session.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from sdnlab.classroom import db as cdb
from sdnlab.classroom import security


@pytest.fixture(autouse=True)
def cheaper_argon2(monkeypatch):
    """argon2id with a small cost: the same code path, without 64 MiB and 3 passes per login."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(security, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))


def _pg_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, even by SIGKILL (no cluster left running)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@pytest.fixture(scope="session")
def postgres_server():
    """A throw-away PostgreSQL cluster: yields a base URL without a database name.

    ``postgres`` runs as a child of the test process (not daemonized by pg_ctl) and dies with
    it, so an interrupted test run leaves no server behind.
    """
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL binaries not installed (apt-get install postgresql; tools/setup.sh does it)")
    if os.geteuid() != 0:
        pytest.skip("the throw-away PostgreSQL cluster is started as the postgres user, which needs root")
    folder = tempfile.mkdtemp(prefix="sdnlab-pg-")
    os.chmod(folder, 0o755)
    data = os.path.join(folder, "data")
    shutil.chown(folder, "postgres", "postgres")
    port = _free_port()
    as_postgres = {"user": "postgres", "group": "postgres", "extra_groups": [], "cwd": folder}
    subprocess.run(
        [f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True, capture_output=True, timeout=120, **as_postgres,
    )  # fmt: skip
    log = open(os.path.join(folder, "log"), "w")  # noqa: SIM115  # the server writes to it until the end
    server = subprocess.Popen(
        [f"{bindir}/postgres", "-D", data, "-p", str(port), "-k", folder,
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent, **as_postgres,
    )  # fmt: skip
    url = f"postgresql://postgres@127.0.0.1:{port}"
    try:
        import psycopg

        for _ in range(200):
            try:
                psycopg.connect(url + "/postgres", connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if server.poll() is not None:
                    pytest.fail("postgres did not start: " + Path(folder, "log").read_text()[-500:])
                time.sleep(0.1)
        yield url
    finally:
        server.send_signal(signal.SIGINT)  # fast shutdown
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database URL: a SQLite file, or a new database in the throw-away cluster."""
    if request.param == "sqlite":
        yield cdb.default_url(tmp_path)
        return
    import psycopg

    base = request.getfixturevalue("postgres_server")
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{base}/{name}"
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def factory(db_url):
    """A session factory on a migrated database."""
    maker = cdb.open_database(db_url)
    yield maker
    maker.kw["bind"].dispose()


USERS = {
    "ann": ("trainee", "c1"),
    "ben": ("trainee", "c1"),
    "ivy": ("instructor", "c1"),
    "oto": ("instructor", "c2"),
    "ada": ("admin", None),
}
PASSWORD = "password-of-"


@pytest.fixture
def classroom(factory, tmp_path):
    """A classroom app on the workspace backend (real files, static grading) with five users."""
    from fastapi.testclient import TestClient

    from sdnlab.classroom import accounts
    from sdnlab.classroom.app import Settings, create_app
    from sdnlab.classroom.runner import LocalRunner

    with factory.begin() as db:
        for name, (role, group) in USERS.items():
            accounts.add_user(db, accounts.check_new_user(name, PASSWORD + name, role, group))
    backend = LocalRunner(tmp_path / "sandboxes", network=False)
    app = create_app(factory, backend, Settings(max_sandboxes=3, sandbox_prefix="ut"))
    with TestClient(app) as base:
        yield Room(app, base, backend)


class Room:
    """The app under test, with a logged-in client per user."""

    def __init__(self, app, base, backend):
        self.app, self.base, self.backend = app, base, backend
        self.room = app.state.room

    def client(self):
        from fastapi.testclient import TestClient

        return TestClient(self.app)

    def login(self, name):
        """A client logged in as ``name`` that sends its CSRF token on every request."""
        client = self.client()
        answer = client.post("/api/login", json={"username": name, "password": PASSWORD + name})
        assert answer.status_code == 200, answer.text
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        return client
