"""``sdnlab serve`` (the classroom web server) and ``sdnlab users add|import``.

Started as root, ``serve`` runs the privileged sandbox agent as a child process and then drops
its own privileges to ``--user`` (default ``nobody``) before it opens the database or the
port: the web-facing process never runs as root. Started as another user, it needs
``--agent SOCKET`` of an agent started by root (``python -m sdnlab.classroom.agent``), or
``--backend workspace`` (no networks: flow files graded statically).
"""

from __future__ import annotations

import logging
import os
import pwd
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from sdnlab.classroom.errors import ClassroomError
from sdnlab.cli_options import JsonOpt
from sdnlab.jsonio import dumps

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: SQLite in the state folder; postgresql://...)"),
]
StateOpt = Annotated[
    Path | None, typer.Option("--state", help="Server state folder (default: $SDNLAB_HOME/classroom)")
]


def default_state() -> Path:
    """``$SDNLAB_HOME/classroom``."""
    from sdnlab.labs.progress import sdnlab_home

    return sdnlab_home() / "classroom"


def database_url(db: str | None, state: Path | None) -> str:
    """The ``--db`` URL, or the embedded SQLite file under ``<state>/web``."""
    from sdnlab.classroom.db import default_url

    if db:
        return db
    web = (state or default_state()) / "web"
    web.mkdir(parents=True, exist_ok=True)
    return default_url(web)


_SKIP_STDLIB = {
    "antigravity",
    "this",
    "idlelib",
    "tkinter",
    "turtle",
    "turtledemo",
    "lib2to3",
    "pydoc_data",
    "test",
    "ensurepip",
    "venv",
    "__main__",
    "msilib",
    "winreg",
    "winsound",
    "_msi",
    "nt",
}
_WALK_STDLIB = ("asyncio", "concurrent", "email", "encodings", "http", "json", "logging", "urllib",
                "importlib", "sqlite3", "xml", "collections", "multiprocessing", "zoneinfo")  # fmt: skip


def _preload() -> None:
    """Import the standard library before dropping root: Python's own files may be unreadable after."""
    import importlib
    import pkgutil
    import warnings

    from markdown_it import MarkdownIt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in sorted(sys.stdlib_module_names - _SKIP_STDLIB):
            try:
                module = importlib.import_module(name)
            except Exception:  # platform modules that do not exist here (e.g. Windows ones)
                continue
            if name in _WALK_STDLIB and hasattr(module, "__path__"):
                for info in pkgutil.walk_packages(module.__path__, name + "."):
                    if ".test" not in info.name and not info.name.endswith("__main__"):
                        try:
                            importlib.import_module(info.name)
                        except Exception:  # optional parts (e.g. a missing C extension)
                            pass
    MarkdownIt("commonmark", {"html": False}).enable("table").render("# x\n\n| a |\n|---|\n| b |\n")
    try:
        import psycopg  # noqa: F401  # preloaded for PostgreSQL URLs
    except ImportError:
        pass


def register(root: typer.Typer, flows: typer.Typer) -> None:
    """Add ``serve`` and the ``users`` group to the ``sdnlab`` command line."""
    users = typer.Typer(help="Classroom accounts.", no_args_is_help=True)
    root.add_typer(users, name="users")
    root.command()(serve)
    users.command("add")(users_add)
    users.command("import")(users_import)


def users_add(
    name: Annotated[str, typer.Argument(help="User name (lowercase).")],
    role: Annotated[str, typer.Option("--role", help="trainee, instructor or admin")] = "trainee",
    class_name: Annotated[str | None, typer.Option("--class", help="Class to put the user in")] = None,
    db: DbOpt = None,
    state: StateOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create an account; the password is read from standard input (first line)."""
    from sdnlab.classroom import accounts
    from sdnlab.classroom.db import open_database

    password = sys.stdin.readline().rstrip("\r\n")
    new = accounts.check_new_user(name, password, role, class_name)
    factory = open_database(database_url(db, state))
    with factory.begin() as session:
        accounts.add_user(session, new)
    if json_out:
        typer.echo(dumps({"user": name, "role": role, "class": class_name, "added": True}))
        return
    typer.echo(f"user {name} ({role}) added" + (f" to class {class_name}" if class_name else ""))


def users_import(
    file: Annotated[Path, typer.Argument(help="CSV with username,password[,role][,class]")],
    db: DbOpt = None,
    state: StateOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create accounts from a CSV file (every row checked first; all or none)."""
    from sdnlab.classroom import accounts
    from sdnlab.classroom.db import open_database

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ClassroomError(f"{file}: {exc.strerror}") from None
    new_users = accounts.parse_csv(text, str(file))
    factory = open_database(database_url(db, state))
    with factory.begin() as session:
        accounts.import_users(session, new_users)
    if json_out:
        typer.echo(dumps({"file": str(file), "imported": len(new_users)}))
        return
    typer.echo(f"{len(new_users)} users imported from {file}")


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port")] = 8000,
    db: DbOpt = None,
    state: StateOpt = None,
    backend: Annotated[
        str, typer.Option("--backend", help="local (agent), container (podman), kubernetes or workspace")
    ] = "local",
    agent: Annotated[str | None, typer.Option("--agent", help="Socket of an agent already running")] = None,
    isolation: Annotated[
        str,
        typer.Option(
            "--isolation",
            help="local backend: own-ovs (each sandbox in its own namespaces with its own Open vSwitch) "
            "or shared (the host's Open vSwitch, prefixed switch names)",
        ),
    ] = "own-ovs",
    user: Annotated[
        str, typer.Option("--user", help="Run the web process as this user (when root)")
    ] = "nobody",
    max_sandboxes: Annotated[int, typer.Option("--max-sandboxes", help="Cap on concurrent sandboxes")] = 30,
    idle_ttl: Annotated[
        float, typer.Option("--idle-ttl", help="Reclaim sandboxes idle this many minutes")
    ] = 120,
    prefix: Annotated[str, typer.Option("--sandbox-prefix", help="Sandbox (runtime lab) name prefix")] = "cr",
    secure_cookies: Annotated[
        str, typer.Option("--secure-cookies", help="auto (when served over https), always or never")
    ] = "auto",
    warm: Annotated[
        str,
        typer.Option(
            "--warm",
            help="Warm pool: LAB=N,... keeps N sandboxes of LAB started ahead (they count against the cap)",
        ),
    ] = "",
    max_validations: Annotated[
        int,
        typer.Option(
            "--max-validations",
            min=1,
            max=8,
            help="Lab validations (instructors) running at once; each live one holds a sandbox",
        ),
    ] = 1,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            envvar="SDNLAB_SIGNING_KEY_FILE",
            help="Certificate signing key (Ed25519 PEM; mode 400 or 440), e.g. a mounted Secret",
        ),
    ] = None,
):
    """Run the classroom web server (UI at /, API at /api/, OpenAPI at /api/openapi.json)."""
    import uvicorn

    from sdnlab.classroom.app import Settings, create_app
    from sdnlab.classroom.db import open_database
    from sdnlab.classroom.runner import LocalRunner
    from sdnlab.classroom.sandbox import AgentBackend, SandboxBackend

    if backend not in ("local", "workspace", "container", "kubernetes"):
        raise ClassroomError(f"--backend {backend}: local, workspace, container or kubernetes")
    if isolation not in ("own-ovs", "shared"):
        raise ClassroomError(f"--isolation {isolation}: own-ovs or shared")
    if secure_cookies not in ("auto", "always", "never"):
        raise ClassroomError(f"--secure-cookies {secure_cookies}: auto, always or never")
    from sdnlab.classroom.pool import parse_targets
    from sdnlab.labs.loader import catalogue

    warm_targets = parse_targets(warm, [lab.id for lab in catalogue()])
    if warm_targets and backend == "kubernetes":
        raise ClassroomError(
            "--warm: the kubernetes backend keeps its own pool of warm pods, shared by every server "
            "replica (SDNLAB_K8S_WARM_POOL)"
        )
    if sum(warm_targets.values()) > max_sandboxes:
        raise ClassroomError(
            f"--warm: {sum(warm_targets.values())} warm sandboxes exceed --max-sandboxes {max_sandboxes}"
        )
    state = (state or default_state()).resolve()
    web = state / "web"
    web.mkdir(parents=True, exist_ok=True)
    agent_proc = None
    root = os.geteuid() == 0
    account = None
    if root:
        try:
            account = pwd.getpwnam(user)
        except KeyError:
            raise ClassroomError(f"--user {user}: no such user") from None
        if account.pw_uid == 0:
            raise ClassroomError("--user root: the web process must not run as root")
        for path in [web, *web.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid)
    the_backend: SandboxBackend
    if backend == "kubernetes":  # pods through the API server; SDNLAB_K8S_* (backends/kubernetes.py)
        from sdnlab.classroom.backends import kubernetes as k8s

        the_backend = k8s.from_environment()
        k8s.start_maintenance(the_backend)
    elif backend == "workspace":
        the_backend = LocalRunner(web / "workspaces", network=False)
        if account:
            for path in [web, *web.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid)
    elif agent:
        the_backend = AgentBackend(agent)
    elif root:
        assert account is not None
        socket_path = state / "agent.sock"
        agent_proc = subprocess.Popen(
            [
                sys.executable, "-m", "sdnlab.classroom.agent",
                "--state", str(state / "agent"), "--socket", str(socket_path),
                "--allow-uid", str(account.pw_uid), "--parent-pid", str(os.getpid()),
                "--backend", "container" if backend == "container" else "local",
                "--isolation", isolation,
            ],
            start_new_session=True,
        )  # fmt: skip
        for _ in range(100):
            if socket_path.exists() or agent_proc.poll() is not None:
                break
            time.sleep(0.1)
        if not socket_path.exists():
            raise ClassroomError(f"the sandbox agent did not start (exit code {agent_proc.poll()})")
        os.chmod(state, 0o711)
        the_backend = AgentBackend(str(socket_path))
        the_backend.kind = backend  # what the agent runs: local labs or containers
    else:
        raise ClassroomError(
            "the local backend needs the privileged agent: start sdnlab serve as root, "
            "or give --agent SOCKET of a running agent, or use --backend workspace"
        )
    try:
        url = database_url(db, state)
        factory = open_database(url)  # migrations run here, before privileges are dropped
        settings = Settings(
            max_sandboxes=max_sandboxes,
            idle_ttl_s=idle_ttl * 60.0,
            sandbox_prefix=prefix,
            cookie_secure=secure_cookies,
            state_dir=web,  # the exam signing key (keys/, 0700) and rendered variants live here
            warm=warm_targets,
            max_validations=max_validations,
            key_file=str(key_file) if key_file else "",
        )
        app = create_app(factory, the_backend, settings)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10)
        config.load()
        _preload()
        if account:
            factory.kw["bind"].dispose()
            for path in [web, *web.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid)
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            os.environ["HOME"] = os.environ["SDNLAB_HOME"] = str(web)
        logging.getLogger("sdnlab.classroom").setLevel(logging.INFO)
        issuer = ""
        if app.state.room.signing_key is not None:
            from sdnlab.certification import keys

            issuer = f", issuer {keys.did_key(app.state.room.signing_key.public_key())}"
        typer.echo(
            f"classroom: http://{host}:{port}/ (backend {the_backend.kind}, uid {os.geteuid()}{issuer})",
            err=True,
        )
        uvicorn.Server(config).run()
    finally:
        if agent_proc is not None and agent_proc.poll() is None:
            try:
                agent_proc.send_signal(signal.SIGTERM)
            except PermissionError:
                pass  # after dropping root: the agent sees its parent gone and stops by itself
