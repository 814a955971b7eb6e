"""The sandbox seam: what the web app asks of whatever runs the trainees' labs.

``SandboxBackend`` is the interface (in the spirit of JupyterHub's Spawner): start, stop and
inspect one sandbox per trainee session, read and write its workspace files, deploy them,
grade, open a terminal. Implementations: ``runner.LocalRunner`` does the work on this host
(used by the privileged agent, and without networks as the ``workspace`` backend), and
``AgentBackend`` here forwards every call to the agent over its Unix socket, so the web
process itself never needs root.

Agent protocol: one request per connection, a JSON line ``{"op": ..., "sandbox": ..., ...}``
answered by ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ..., "kind": ...}``; a
terminal answer carries the pseudo-terminal's file descriptor (SCM_RIGHTS).
"""

from __future__ import annotations

import json
import re
import socket
from abc import ABC, abstractmethod
from pathlib import PurePosixPath

from sdnlab.classroom.errors import ClassroomError, Conflict, NotFound, SandboxError

MAX_FILE_BYTES = 256 * 1024
_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")
ERROR_KINDS: dict[str, type[ClassroomError]] = {
    "not_found": NotFound,
    "conflict": Conflict,
    "bad_request": ClassroomError,
    "sandbox": SandboxError,
}


def workspace_path(path: str) -> str:
    """``path`` as a normalised relative workspace path; ``ClassroomError`` if it may leave the workspace."""
    if not path or len(path) > 255 or "\\" in path or "\x00" in path:
        raise ClassroomError(f"file path {path[:80]!r}: give a relative path inside your workspace")
    parts = PurePosixPath(path).parts
    if not parts or any(not _PART.match(p) for p in parts) or PurePosixPath(path).is_absolute():
        raise ClassroomError(f"file path {path[:80]!r}: give a relative path inside your workspace")
    return "/".join(parts)


MAX_SCENARIOS = 16
_ARG_TEXT = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")  # node names, addresses: never a command


def scenario_definitions(raw: object) -> list:
    """Scored scenarios sent with a grade request, validated: ``certification.scenarios.Scenario``s.

    Only registered kinds with their known arguments (``scenarios.parse``); every string argument
    must be a plain name or address (variables already filled by the server). ``ClassroomError``
    names the first problem."""
    from sdnlab.certification import scenarios

    if not isinstance(raw, list) or len(raw) > MAX_SCENARIOS:
        raise ClassroomError(f"scenarios: expected a list of at most {MAX_SCENARIOS} scenario definitions")
    problems: list[str] = []

    def bad(_container, _key, field, problem) -> None:
        problems.append(f"{field}: {problem}")

    out = []
    for i, item in enumerate(raw):
        scenario = scenarios.parse(item, f"scenarios[{i}]", bad)
        if scenario is not None:
            for key, value in scenario.args.items():
                texts = value if isinstance(value, list) else [value]
                if any(isinstance(t, str) and not _ARG_TEXT.match(t) for t in texts) or not all(
                    isinstance(t, (str, int, float)) for t in texts
                ):
                    bad(
                        None,
                        key,
                        f"scenarios[{i}].{scenario.kind}.{key}",
                        "expected names, addresses or numbers",
                    )
                elif key in ("port", "tries", "flows") and not (
                    isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 65535
                ):
                    bad(
                        None, key, f"scenarios[{i}].{scenario.kind}.{key}", "expected a whole number 1..65535"
                    )
                elif key == "timeout" and not (
                    isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 120
                ):
                    bad(None, key, f"scenarios[{i}].{scenario.kind}.{key}", "expected seconds 0..120")
        if problems:
            raise ClassroomError(f"grade: {problems[0]}")
        out.append(scenario)
    return out


def error_kind(exc: ClassroomError) -> str:
    """The protocol name of an error class (the inverse of ``ERROR_KINDS``)."""
    for kind, cls in ERROR_KINDS.items():
        if type(exc) is cls:
            return kind
    return "sandbox" if isinstance(exc, SandboxError) else "bad_request"


class SandboxBackend(ABC):
    """Runs one lab per sandbox; sandbox names are runtime lab names (``paths.check_name``)."""

    kind = "abstract"
    has_terminal = False

    @abstractmethod
    def start(
        self,
        sandbox: str,
        lab_id: str,
        class_name: str = "",
        trainee: str = "",
        session: str = "",
        seed: int | None = None,
    ) -> dict:
        """Create the sandbox with a fresh workspace from the lab's starter; returns its status when ready.

        ``class_name``, ``trainee`` and ``session`` say whose sandbox it is: backends that run
        sandboxes elsewhere (containers, pods) label them with it; the local agent needs none.
        ``seed`` runs that variant of a variable lab (``sdnlab.certification.variants``): exam
        tasks run each trainee's own variant; None runs the catalogue lab.
        """

    @abstractmethod
    def stop(self, sandbox: str) -> None:
        """Take the sandbox down and remove it (nothing left behind); no error if it is gone."""

    @abstractmethod
    def status(self, sandbox: str) -> dict:
        """Lab, state and topology (hosts with addresses, switches, links); ``NotFound`` if absent."""

    @abstractmethod
    def sandboxes(self) -> list[str]:
        """Names of the sandboxes that exist (for reattaching or cleaning after a restart)."""

    @abstractmethod
    def list_files(self, sandbox: str) -> list[dict]:
        """The workspace files: ``{"path", "size"}``."""

    @abstractmethod
    def read_file(self, sandbox: str, path: str) -> str:
        """A workspace file's text."""

    @abstractmethod
    def write_file(self, sandbox: str, path: str, text: str) -> None:
        """Write a workspace file (parents created)."""

    @abstractmethod
    def deploy(self, sandbox: str) -> dict:
        """Put the workspace on the running lab (like ``sdnlab lab reset``)."""

    @abstractmethod
    def reset(self, sandbox: str) -> dict:
        """Restore the lab's starter files in the workspace and deploy them."""

    @abstractmethod
    def grade(
        self,
        sandbox: str,
        include_hidden: bool,
        hidden: str | None = None,
        scenarios: list | None = None,
        replay: bool = False,
    ) -> dict:
        """Grade the lab: ``LabResult.to_dict()`` (hidden checks included when asked).

        ``hidden``: the text of the lab's hidden.yaml, sent by the server with the call (the
        sandbox has no instructor data); None: the sandbox's own, where it has any.
        ``scenarios``: an exam task's scored scenarios (``scenarios.to_raw`` mappings, variables
        filled), measured on the running lab after the checks: their items join ``checks`` and
        ``measurements`` maps each id to ``{"value", "text", "credit"}`` (see
        ``scenario_definitions``).
        ``replay``: grade as ``sdnlab lab check`` does (``labs.session.check_lab``): the public
        checks only, a lab whose controller is the trainee's app by replay where replay covers it
        (else live, the report's ``checked_by`` says why). The trainee's Check asks for it;
        submit and exams grade live."""

    def terminal(self, sandbox: str) -> int:
        """A pseudo-terminal master file descriptor with a shell for the sandbox (the caller closes it)."""
        raise ClassroomError(f"the {self.kind} backend has no terminals")

    def tables(self, sandbox: str) -> dict[str, str]:
        """Evidence: ``{"<switch>.flows"|"<switch>.groups": text}`` of every switch now ({} if unknown)."""
        return {}


class AgentBackend(SandboxBackend):
    """Forwards every call to the privileged agent listening on ``socket_path``."""

    kind = "local"
    has_terminal = True

    def __init__(self, socket_path: str, timeout: float = 300.0):
        self.socket_path = socket_path
        self.timeout = timeout

    def _call(self, op: str, want_fd: bool = False, **args) -> tuple[object, int | None]:
        request = json.dumps({"op": op, **args}).encode() + b"\n"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(self.socket_path)
                sock.sendall(request)
                fds: list[int] = []
                chunks = []
                while True:
                    if want_fd and not fds:
                        data, got, _flags, _addr = socket.recv_fds(sock, 65536, 1)
                        fds.extend(got)
                    else:
                        data = sock.recv(65536)
                    if not data:
                        break
                    chunks.append(data)
                    if data.endswith(b"\n"):
                        break
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise SandboxError(
                f"the sandbox agent is not running at {self.socket_path} ({exc.strerror})"
            ) from None
        except TimeoutError:
            raise SandboxError(f"the sandbox agent did not answer {op!r} within {self.timeout:g} s") from None
        except OSError as exc:  # e.g. EAGAIN when the agent's backlog is full: a busy agent, not a bug
            raise SandboxError(f"the sandbox agent is busy or unreachable ({exc.strerror or exc})") from None
        try:
            answer = json.loads(b"".join(chunks) or b"null")
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            for fd in fds:
                _close(fd)
            raise SandboxError(f"the sandbox agent gave no valid answer to {op!r}")
        if not answer.get("ok"):
            for fd in fds:
                _close(fd)
            cls = ERROR_KINDS.get(str(answer.get("kind")), SandboxError)
            raise cls(str(answer.get("error") or f"{op} failed"))
        return answer.get("result"), (fds[0] if fds else None)

    def _result(self, op: str, **args):
        return self._call(op, **args)[0]

    def start(
        self,
        sandbox: str,
        lab_id: str,
        class_name: str = "",
        trainee: str = "",
        session: str = "",
        seed: int | None = None,
    ) -> dict:
        extra = {} if seed is None else {"seed": seed}
        return self._result("start", sandbox=sandbox, lab=lab_id, **extra)

    def stop(self, sandbox: str) -> None:
        self._result("stop", sandbox=sandbox)

    def status(self, sandbox: str) -> dict:
        return self._result("status", sandbox=sandbox)

    def sandboxes(self) -> list[str]:
        return list(self._result("sandboxes"))

    def list_files(self, sandbox: str) -> list[dict]:
        return self._result("list_files", sandbox=sandbox)

    def read_file(self, sandbox: str, path: str) -> str:
        return self._result("read_file", sandbox=sandbox, path=path)

    def write_file(self, sandbox: str, path: str, text: str) -> None:
        self._result("write_file", sandbox=sandbox, path=path, text=text)

    def deploy(self, sandbox: str) -> dict:
        return self._result("deploy", sandbox=sandbox)

    def reset(self, sandbox: str) -> dict:
        return self._result("reset", sandbox=sandbox)

    def grade(
        self,
        sandbox: str,
        include_hidden: bool,
        hidden: str | None = None,
        scenarios: list | None = None,
        replay: bool = False,
    ) -> dict:
        extra: dict = {} if scenarios is None else {"scenarios": scenarios}
        if replay:  # sent only when asked: an agent of the previous version refuses no request it knew
            extra["replay"] = True
        return self._result("grade", sandbox=sandbox, include_hidden=include_hidden, hidden=hidden, **extra)

    def tables(self, sandbox: str) -> dict[str, str]:
        return dict(self._result("tables", sandbox=sandbox))

    def terminal(self, sandbox: str) -> int:
        _result, fd = self._call("terminal", want_fd=True, sandbox=sandbox)
        if fd is None:
            raise SandboxError("the sandbox agent opened no terminal")
        return fd


def _close(fd: int) -> None:
    import os

    try:
        os.close(fd)
    except OSError:
        pass
