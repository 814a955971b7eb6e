"""Fixtures: a real database for every classroom test, SQLite always and PostgreSQL when installed.

The PostgreSQL cluster is a throw-away one: ``initdb`` in a temporary folder, run by the
``postgres`` system user on a free port, stopped and removed at the end of the session.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid

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


@pytest.fixture(scope="session")
def postgres_server():
    """A throw-away PostgreSQL cluster: yields a base URL without a database name."""
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

    def as_postgres(*argv: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120
        )

    as_postgres(f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
    as_postgres(
        f"{bindir}/pg_ctl",
        "-D",
        data,
        "-w",
        "-l",
        os.path.join(folder, "log"),
        "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
        "start",
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
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
