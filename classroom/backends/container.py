"""The ``container`` sandbox backend: each trainee sandbox is a podman container of the sandbox image.

The container (``podspec.podman_run_args``) runs its own Open vSwitch and the classroom agent,
with four capabilities, no network (``--network none``) and no host files except one folder
per sandbox, ``<state>/agents/<sandbox>``, bind-mounted as the agent's socket folder. Every
call is forwarded to that agent with the ordinary ``AgentBackend`` client, terminals too (the
pseudo-terminal's descriptor crosses the container boundary over the Unix socket).

Podman runs with ``--runtime runc`` and explicit ``--ulimit`` values by default: on hosts that
withhold CAP_SYS_RESOURCE (this project's VMs) podman's default limits cannot be set, and crun
refuses hybrid cgroup layouts (docs/scale-out.md, "Podman on these machines").

This backend runs podman, so it needs root: ``sdnlab serve --backend container`` runs it in
the privileged host agent, and the unprivileged web process talks to that agent as before.
Containers carry the label ``sdnlab.io/owner`` (a hash of the state folder), so several
servers or test runs on one host never see or remove each other's sandboxes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from sdnlab.classroom import podspec
from sdnlab.classroom.errors import Conflict, NotFound, SandboxError
from sdnlab.classroom.sandbox import AgentBackend, SandboxBackend


def default_spec(image: str | None = None) -> podspec.SandboxSpec:
    """The standard sandbox spec, with another image if given."""
    return podspec.SandboxSpec(image=image) if image else podspec.SandboxSpec()


def owner_id(state_dir: Path) -> str:
    """A short stable id of a server's state folder (the ``sdnlab.io/owner`` label)."""
    return "s" + hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:12]


class ContainerBackend(SandboxBackend):
    """Sandboxes as podman containers on this host."""

    kind = "container"
    has_terminal = True

    def __init__(
        self,
        state_dir: Path,
        spec: podspec.SandboxSpec | None = None,
        podman: str = "podman",
        runtime: str | None = "runc",
        containers_conf: str | None = None,
        ready_timeout: float = 60.0,
        call_timeout: float = 300.0,
    ):
        self.state = Path(state_dir)
        self.spec = spec or podspec.SandboxSpec()
        self.podman = podman
        self.runtime = runtime
        self.env = dict(os.environ)
        if containers_conf:
            self.env["CONTAINERS_CONF"] = containers_conf
        self.ready_timeout = ready_timeout
        self.call_timeout = call_timeout
        self.owner = owner_id(self.state)
        (self.state / "agents").mkdir(parents=True, exist_ok=True)
        os.chmod(self.state / "agents", 0o700)
        self._guard = threading.Lock()
        self._starting: set[str] = set()

    # -- podman ------------------------------------------------------------------------------
    def _podman(self, *args: str, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess:
        try:
            done = subprocess.run(
                [self.podman, *args], capture_output=True, text=True, timeout=timeout, env=self.env
            )
        except FileNotFoundError:
            raise SandboxError(f"the container backend needs {self.podman!r} (not found)") from None
        except subprocess.TimeoutExpired:
            raise SandboxError(f"podman {args[0]} did not finish within {timeout:g} s") from None
        if check and done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit code {done.returncode}"]
            raise SandboxError(f"podman {args[0]}: {lines[-1][:300]}")
        return done

    def _agent_dir(self, sandbox: str) -> Path:
        return self.state / "agents" / sandbox

    def _agent(self, sandbox: str) -> AgentBackend:
        podspec.dns_name(sandbox)  # a name that cannot be a container is not a path either
        socket = self._agent_dir(sandbox) / "agent.sock"
        if "/" in sandbox or not socket.exists():
            raise NotFound(f"no sandbox {sandbox!r}")
        return AgentBackend(str(socket), timeout=self.call_timeout)

    def _labels(self, sandbox: str, class_name: str = "", trainee: str = "", session: str = "") -> dict:
        return podspec.labels(sandbox, self.owner, class_name, trainee, session)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(
        self,
        sandbox: str,
        lab_id: str,
        class_name: str = "",
        trainee: str = "",
        session: str = "",
        seed: int | None = None,
    ) -> dict:
        name = podspec.dns_name(sandbox)
        with self._guard:
            if sandbox in self._starting or sandbox in self.sandboxes():
                raise Conflict(f"sandbox {sandbox!r} exists already")
            self._starting.add(sandbox)
        try:
            agent_dir = self._agent_dir(sandbox)
            shutil.rmtree(agent_dir, ignore_errors=True)
            agent_dir.mkdir(mode=0o700)
            started = time.monotonic()
            try:
                self._podman(
                    *podspec.podman_run_args(
                        self.spec,
                        sandbox,
                        str(agent_dir),
                        self._labels(sandbox, class_name, trainee, session),
                        self.runtime,
                    )
                )
                agent = AgentBackend(str(agent_dir / "agent.sock"), timeout=self.call_timeout)
                self._wait_ready(name, agent, started)
                ready = time.monotonic()
                status = agent.start(sandbox, lab_id, seed=seed)
                timing = {
                    "container_s": round(ready - started, 3),
                    "lab_s": round(time.monotonic() - ready, 3),
                }
            except BaseException:
                self._remove(sandbox)
                raise
        finally:
            with self._guard:
                self._starting.discard(sandbox)
        return {**status, "backend": self.kind, "timing": timing}

    def _wait_ready(self, name: str, agent: AgentBackend, started: float) -> None:
        """Wait until the container's agent answers (OVS is up by then); ``SandboxError`` if it dies."""
        socket = Path(agent.socket_path)
        while time.monotonic() - started < self.ready_timeout:
            if socket.exists():
                try:
                    agent.sandboxes()
                    return
                except SandboxError:
                    pass
            state = self._podman("inspect", "--format", "{{.State.Status}}", name, check=False)
            if state.returncode == 0 and state.stdout.strip() in ("exited", "stopped", "dead"):
                logs = self._podman("logs", "--tail", "5", name, check=False)
                tail = " | ".join((logs.stderr + logs.stdout).strip().splitlines()[-3:])
                raise SandboxError(f"the sandbox container {name} stopped while starting: {tail[:300]}")
            time.sleep(0.1)
        raise SandboxError(f"the sandbox container {name} was not ready within {self.ready_timeout:g} s")

    def _remove(self, sandbox: str) -> None:
        """Remove the sandbox's container if it is this server's (same name, other owner: left alone)."""
        name = podspec.dns_name(sandbox)
        owner = self._podman(
            "inspect", "--format", f'{{{{index .Config.Labels "{podspec.LABEL_PREFIX}/owner"}}}}', name,
            check=False,
        )  # fmt: skip
        if owner.returncode == 0 and owner.stdout.strip() == self.owner:
            self._podman("rm", "--force", "--time", "5", name, check=False)
        shutil.rmtree(self._agent_dir(sandbox), ignore_errors=True)

    def stop(self, sandbox: str) -> None:
        # the lab inside goes with its container: namespaces, bridges and processes are the container's
        self._remove(sandbox)

    def sandboxes(self) -> list[str]:
        done = self._podman(
            "ps", "--all", "--format", "json", "--filter", f"label={podspec.LABEL_PREFIX}/owner={self.owner}"
        )
        try:
            rows = json.loads(done.stdout or "[]")
        except ValueError:
            raise SandboxError("podman ps gave no JSON") from None
        names = {(row.get("Labels") or {}).get(f"{podspec.LABEL_PREFIX}/sandbox") for row in rows}
        return sorted(n for n in names if n)

    def status(self, sandbox: str) -> dict:
        return {**self._agent(sandbox).status(sandbox), "backend": self.kind}

    # -- forwarded to the sandbox's agent ----------------------------------------------------
    def list_files(self, sandbox: str) -> list[dict]:
        return self._agent(sandbox).list_files(sandbox)

    def read_file(self, sandbox: str, path: str) -> str:
        return self._agent(sandbox).read_file(sandbox, path)

    def write_file(self, sandbox: str, path: str, text: str) -> None:
        self._agent(sandbox).write_file(sandbox, path, text)

    def deploy(self, sandbox: str) -> dict:
        return {**self._agent(sandbox).deploy(sandbox), "backend": self.kind}

    def reset(self, sandbox: str) -> dict:
        return {**self._agent(sandbox).reset(sandbox), "backend": self.kind}

    def grade(
        self,
        sandbox: str,
        include_hidden: bool,
        hidden: str | None = None,
        scenarios: list | None = None,
        replay: bool = False,
    ) -> dict:
        return self._agent(sandbox).grade(sandbox, include_hidden, hidden, scenarios, replay)

    def tables(self, sandbox: str) -> dict[str, str]:
        return self._agent(sandbox).tables(sandbox)

    def terminal(self, sandbox: str) -> int:
        return self._agent(sandbox).terminal(sandbox)
