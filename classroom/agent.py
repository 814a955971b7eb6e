"""The privileged sandbox agent: a narrow JSON API over a Unix socket, served by a ``LocalRunner``.

The web process (unprivileged) connects, sends one JSON request line and reads one answer
(see ``sandbox.py`` for the protocol). Only the operations below exist; each checks its
arguments. Peers are authenticated by their Unix credentials (``SO_PEERCRED``): only the
user ids given with ``allow_uids`` (and root) are served; the socket file is mode 0600 and
owned by the first allowed user.

Run it as ``python -m sdnlab.classroom.agent --state DIR --socket PATH [--allow-uid UID]``
(``sdnlab serve`` does this itself when it is started as root).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import socketserver
import struct
import sys
import threading
import time
from pathlib import Path

from sdnlab.classroom.errors import ClassroomError
from sdnlab.classroom.runner import LocalRunner
from sdnlab.classroom.sandbox import SandboxBackend, error_kind, scenario_definitions
from sdnlab.errors import SdnlabError

LOG = logging.getLogger("sdnlab.classroom.agent")
MAX_REQUEST = 1024 * 1024
OPS = {
    "start": ("sandbox", "lab"),
    "stop": ("sandbox",),
    "status": ("sandbox",),
    "sandboxes": (),
    "list_files": ("sandbox",),
    "read_file": ("sandbox", "path"),
    "write_file": ("sandbox", "path", "text"),
    "deploy": ("sandbox",),
    "reset": ("sandbox",),
    "grade": ("sandbox", "include_hidden"),
    "terminal": ("sandbox",),
    "tables": ("sandbox",),
}


def peer_uid(sock: socket.socket) -> int:
    """The user id of the process at the other end of a Unix socket."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


def parse_request(line: bytes) -> tuple[str, dict]:
    """The operation and its arguments; ``ClassroomError`` for anything else."""
    try:
        request = json.loads(line)
    except ValueError:
        raise ClassroomError("agent: the request is not JSON") from None
    if not isinstance(request, dict) or request.get("op") not in OPS:
        raise ClassroomError(
            f"agent: unknown operation {request.get('op') if isinstance(request, dict) else None!r}"
        )
    op = request["op"]
    args: dict[str, object] = {}
    for name in OPS[op]:
        value = request.get(name)
        wanted = bool if name == "include_hidden" else str
        if not isinstance(value, wanted):
            raise ClassroomError(f"agent: {op}: argument {name!r} missing or not a {wanted.__name__}")
        args[name] = value
    if op == "start" and request.get("seed") is not None:  # optional: the variant of a variable lab
        seed = request["seed"]
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
            raise ClassroomError("agent: start: argument 'seed' is not a whole number 0..2^31")
        args["seed"] = seed
    if op == "grade":  # the server's hidden checks (hidden.yaml text), or null: none sent
        hidden = request.get("hidden")
        if hidden is not None and not isinstance(hidden, str):
            raise ClassroomError("agent: grade: argument 'hidden' must be a text or null")
        args["hidden"] = hidden
        if request.get("scenarios") is not None:  # an exam task's scored scenarios: validated here
            scenario_definitions(request["scenarios"])  # and again where they run (the runner)
            args["scenarios"] = request["scenarios"]
        replay = request.get("replay", False)  # grade as `lab check` does (the trainee's Check)
        if not isinstance(replay, bool):
            raise ClassroomError("agent: grade: argument 'replay' must be true or false")
        if replay and (args["include_hidden"] or args.get("scenarios") is not None):
            raise ClassroomError(
                "agent: grade: replay grades the public checks only (no hidden checks, no scenarios)"
            )
        args["replay"] = replay
    return op, args


def dispatch(backend: SandboxBackend, op: str, args: dict):
    """Run one operation on the backend."""
    if op == "start":
        return backend.start(args["sandbox"], args["lab"], seed=args.get("seed"))
    if op == "stop":
        return backend.stop(args["sandbox"])
    if op == "sandboxes":
        return backend.sandboxes()
    if op == "grade":
        return backend.grade(
            args["sandbox"], args["include_hidden"], args["hidden"], args.get("scenarios"), args["replay"]
        )
    if op == "write_file":
        return backend.write_file(args["sandbox"], args["path"], args["text"])
    if op == "read_file":
        return backend.read_file(args["sandbox"], args["path"])
    return getattr(backend, op)(args["sandbox"])


class _Handler(socketserver.StreamRequestHandler):
    server: AgentServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        uid = peer_uid(sock)
        # read the request first even from a stranger: answering and closing before the peer has
        # sent it made its send fail (EPIPE) instead of reading "not allowed"
        line = self.rfile.readline(MAX_REQUEST + 1)
        if uid != 0 and uid not in self.server.allow_uids:
            LOG.warning("refused a connection from uid %d", uid)
            self._answer({"ok": False, "error": "agent: not allowed", "kind": "bad_request"})
            return
        fd = None
        try:
            if len(line) > MAX_REQUEST:
                raise ClassroomError("agent: request too large")
            op, args = parse_request(line)
            LOG.info("uid %d: %s %s", uid, op, args.get("sandbox", ""))
            result = dispatch(self.server.backend, op, args)
            if op == "terminal":
                fd = result
                result = None
            answer = {"ok": True, "result": result}
        except ClassroomError as exc:
            answer = {"ok": False, "error": str(exc), "kind": error_kind(exc)}
        except SdnlabError as exc:
            answer = {"ok": False, "error": str(exc), "kind": "sandbox"}
        except Exception as exc:  # a bug: logged with its traceback, answered without it
            LOG.exception("agent: %s failed", line[:200])
            answer = {
                "ok": False,
                "error": f"agent: internal error ({type(exc).__name__})",
                "kind": "sandbox",
            }
        data = json.dumps(answer).encode() + b"\n"
        if fd is not None:
            try:
                socket.send_fds(sock, [data], [fd])
            finally:
                os.close(fd)
        else:
            self._answer(answer)

    def _answer(self, answer: dict) -> None:
        try:
            self.wfile.write(json.dumps(answer).encode() + b"\n")
        except OSError:
            pass


class AgentServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """The agent's socket server (one thread per request)."""

    daemon_threads = True
    # a class starting labs at once: socketserver's default backlog (5) refused connections
    # (EAGAIN on connect) when 20 trainees' requests arrived together
    request_queue_size = 128

    def __init__(self, socket_path: str, backend: SandboxBackend, allow_uids: set[int]):
        self.backend = backend
        self.allow_uids = allow_uids
        Path(socket_path).unlink(missing_ok=True)
        old = os.umask(0o177)
        try:
            super().__init__(socket_path, _Handler)
        finally:
            os.umask(old)
        owner = min(allow_uids - {0}, default=0)
        os.chown(socket_path, owner, -1)


def main(argv: list[str] | None = None) -> None:
    """Run the agent until SIGTERM/SIGINT."""
    import signal

    parser = argparse.ArgumentParser(prog="sdnlab-classroom-agent", description=__doc__.splitlines()[0])
    parser.add_argument("--state", required=True, help="folder for sandbox records and workspaces")
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    parser.add_argument(
        "--allow-uid", type=int, action="append", default=[], help="user id allowed to connect"
    )
    parser.add_argument("--parent-pid", type=int, help="exit when this process (the web server) exits")
    parser.add_argument(
        "--backend", choices=("local", "container"), default="local", help="labs on this host or in podman"
    )
    parser.add_argument("--image", help="sandbox image (container backend)")
    parser.add_argument(
        "--isolation",
        choices=("shared", "own-ovs"),
        default="shared",
        help="local backend: labs on the host's Open vSwitch (shared) or each sandbox in its own "
        "namespaces with its own Open vSwitch (own-ovs)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s agent %(levelname)s %(message)s")
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o700)
    os.environ["SDNLAB_HOME"] = str(state / "home")  # the labs library keeps its session records here
    backend: SandboxBackend = LocalRunner(state, network=True)
    if args.backend == "local" and args.isolation == "own-ovs":  # one namespace tree per sandbox
        from sdnlab.classroom.backends.namespaces import NamespaceBackend

        backend = NamespaceBackend(state)
    if args.backend == "container":  # scale-out: sandboxes as podman containers (backends/container.py)
        from sdnlab.classroom.backends.container import ContainerBackend, default_spec

        backend = ContainerBackend(state, spec=default_spec(args.image))
    server = AgentServer(args.socket, backend, set(args.allow_uid))

    def _stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    if args.parent_pid:
        # the web server drops root and then cannot signal us: we watch it instead
        def _watch_parent() -> None:
            while os.getppid() == args.parent_pid:
                time.sleep(1.0)
            LOG.info("the web server exited: stopping (sandboxes stay for a restart to reattach)")
            server.shutdown()

        threading.Thread(target=_watch_parent, daemon=True).start()
    LOG.info("listening on %s (allowed uids: %s)", args.socket, sorted(set(args.allow_uid) | {0}))
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        Path(args.socket).unlink(missing_ok=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
