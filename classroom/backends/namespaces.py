"""The local backend with ``own-ovs`` isolation: each sandbox in its own namespaces with its own OVS.

A sandbox is one ``unshare --mount --net --pid --fork --mount-proc`` process tree on this
host (no image, no podman). Inside it, ``sandbox_script`` brings up loopback, mounts a fresh
``/sys`` (the sandbox's own network devices), private tmpfs folders over ``/run/openvswitch``,
``/etc/openvswitch`` and ``/run/sdnlab`` (the runtime's lab state), hides the backend's state
folder (other sandboxes' workspaces and sockets) behind an empty tmpfs except the sandbox's
own folder, starts its own ``ovsdb-server`` and ``ovs-vswitchd`` (userspace datapath) and then
runs the classroom agent (``LocalRunner``, ``--isolation shared``) on a Unix socket in
``<state>/ns/<sandbox>/agent.sock``. The shell stays the namespace's PID 1 while the agent runs
(no ``exec``): waiting for it, it also reaps the orphaned processes the namespace's init
inherits. Every call is forwarded to that agent with the ordinary ``AgentBackend`` client,
terminals too: the trainee's shell runs inside the sandbox, so ``ovs-ofctl dump-flows s1``
reaches the sandbox's own switch ``s1`` and nothing else.

The lab inside is the only lab of its runtime, so it takes slot 0: switches keep their topology
names (``s1``), the controller listens on 127.0.0.1:6653 of the sandbox's own network namespace.

Nothing is left behind by construction: stopping sends SIGKILL to the ``unshare`` process;
its child (the shell, PID 1 of the sandbox) dies with it (``--kill-child``), the kernel kills
every process of the PID namespace (OVS daemons, Mininet hosts, controller, VNFs), and the network
namespace with its veths, taps and bridges and the mount namespace with its tmpfs folders go
when their last process does. The sandbox's folder is removed last. Records
(``<state>/ns/<sandbox>/box.json``: pid and its start time) let a restarted agent find,
reattach or stop sandboxes started by an earlier one.

``unshare --fork`` ignores SIGTERM while it waits for its child, so only SIGKILL stops it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sdnlab.classroom.errors import ClassroomError, Conflict, NotFound, SandboxError
from sdnlab.classroom.sandbox import AgentBackend, SandboxBackend
from sdnlab.errors import SdnlabError

ISOLATIONS = ("own-ovs", "shared")
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
UNSHARE = ("unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--mount-proc")
# environment variables of the host that must not reach the sandbox (they would point it
# back at the host's runtime folder or Open vSwitch)
_HOST_ONLY_ENV = (
    "SDNLAB_RUN_DIR",
    "OVS_RUNDIR",
    "OVS_DBDIR",
    "OVS_LOGDIR",
    "OVS_SYSCONFDIR",
    "OVS_PKGDATADIR",
)


def sandbox_script(box_dir: Path, hidden_dir: Path, python: str) -> str:
    """The shell script run as the sandbox's first process (pure: returns text).

    ``box_dir`` is the sandbox's own folder (agent socket, workspace, OVS logs), ``hidden_dir``
    the folder hidden behind an empty tmpfs (the backend's state, holding every sandbox);
    ``box_dir`` is inside it and stays visible at the same path.
    """
    box, hidden = shlex.quote(str(box_dir)), shlex.quote(str(hidden_dir))
    state, sock = shlex.quote(str(box_dir / "state")), shlex.quote(str(box_dir / "agent.sock"))
    return "\n".join(
        [
            "set -eu",
            "ip link set lo up",
            "mount -t sysfs sysfs /sys",  # /sys/class/net of this network namespace
            "for d in /run/openvswitch /etc/openvswitch /run/sdnlab; do",
            '    mkdir -p "$d"; mount -t tmpfs -o mode=0755,size=64m sdnlab-sandbox "$d"',
            "done",
            f"mkdir -p {box}/ovs-log /var/log/openvswitch",
            f"mount --bind {box}/ovs-log /var/log/openvswitch",
            # keep the own folder, hide the rest of the backend's state, put the own folder back
            f"mkdir /run/sdnlab/.box && mount --bind {box} /run/sdnlab/.box",
            f"mount -t tmpfs -o mode=0700,size=1m sdnlab-hidden {hidden}",
            f"mkdir -p {box} && mount --move /run/sdnlab/.box {box} && rmdir /run/sdnlab/.box",
            f"ovsdb-tool create /etc/openvswitch/conf.db {OVS_SCHEMA}",
            (
                "ovsdb-server /etc/openvswitch/conf.db --remote=punix:/run/openvswitch/db.sock"
                " --pidfile --detach --no-chdir --log-file -vconsole:off -vsyslog:off"
            ),
            "ovs-vsctl --no-wait init",
            "ovs-vswitchd --pidfile --detach --no-chdir --log-file -vconsole:off -vsyslog:off",
            (
                f"{shlex.quote(python)} -m sdnlab.classroom.agent --state {state} --socket {sock}"
                " --isolation shared"
            ),
        ]
    )


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot (``/proc/PID/stat`` field 22)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return int(fields[19]) if len(fields) > 19 and fields[0] != "Z" else None


class NamespaceBackend(SandboxBackend):
    """Sandboxes on this host, each in its own mount, network and PID namespaces with its own OVS."""

    kind = "local"
    isolation = "own-ovs"
    has_terminal = True

    def __init__(
        self,
        state_dir: Path,
        python: str = sys.executable,
        ready_timeout: float = 60.0,
        call_timeout: float = 300.0,
    ):
        self.state = Path(state_dir).resolve()
        self.python = python
        self.ready_timeout = ready_timeout
        self.call_timeout = call_timeout
        (self.state / "ns").mkdir(parents=True, exist_ok=True)
        os.chmod(self.state / "ns", 0o700)
        self._guard = threading.Lock()
        self._starting: set[str] = set()

    # -- records ---------------------------------------------------------------------------
    def _dir(self, sandbox: str) -> Path:
        from sdnlab.runtime import paths

        try:
            return self.state / "ns" / paths.check_name(sandbox)
        except SdnlabError as exc:
            raise ClassroomError(f"sandbox: {exc}") from None

    def _record(self, sandbox: str) -> dict:
        try:
            record = json.loads((self._dir(sandbox) / "box.json").read_text())
        except (FileNotFoundError, ValueError):
            raise NotFound(f"no sandbox {sandbox!r}") from None
        return record if isinstance(record, dict) else {}

    @staticmethod
    def _alive(record: dict) -> bool:
        pid = record.get("pid")
        return isinstance(pid, int) and pid > 1 and process_start(pid) == record.get("start")

    def _agent(self, sandbox: str) -> AgentBackend:
        record = self._record(sandbox)
        if not self._alive(record):
            raise NotFound(f"sandbox {sandbox!r} is no longer running")
        return AgentBackend(str(self._dir(sandbox) / "agent.sock"), timeout=self.call_timeout)

    # -- lifecycle -------------------------------------------------------------------------
    def start(
        self,
        sandbox: str,
        lab_id: str,
        class_name: str = "",
        trainee: str = "",
        session: str = "",
        seed: int | None = None,
    ) -> dict:
        box = self._dir(sandbox)
        with self._guard:
            if sandbox in self._starting or (box / "box.json").exists():
                raise Conflict(f"sandbox {sandbox!r} exists already")
            self._starting.add(sandbox)
        try:
            shutil.rmtree(box, ignore_errors=True)
            box.mkdir(mode=0o700)
            started = time.monotonic()
            try:
                agent = self._launch(sandbox, box)
                self._wait_ready(sandbox, box, agent, started)
                ready = time.monotonic()
                status = agent.start(sandbox, lab_id, seed=seed)
                timing = {"sandbox_s": round(ready - started, 3), "lab_s": round(time.monotonic() - ready, 3)}
            except BaseException:
                self._remove(sandbox)
                raise
        finally:
            with self._guard:
                self._starting.discard(sandbox)
        return {**status, "isolation": self.isolation, "timing": timing}

    def _launch(self, sandbox: str, box: Path) -> AgentBackend:
        env = {k: v for k, v in os.environ.items() if k not in _HOST_ONLY_ENV}
        env["PATH"] = env.get("PATH") or "/usr/sbin:/usr/bin:/sbin:/bin"
        with open(box / "box.log", "ab") as log:
            try:
                proc = subprocess.Popen(
                    [*UNSHARE, "/bin/sh", "-c", sandbox_script(box, self.state, self.python)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    cwd="/",
                    env=env,
                    start_new_session=True,  # the agent's own signals (Ctrl-C, SIGTERM) do not reach it
                )
            except FileNotFoundError:
                raise SandboxError("the own-ovs isolation needs unshare (util-linux): not found") from None
        threading.Thread(target=proc.wait, daemon=True).start()  # reap it when it ends
        record = {
            "sandbox": sandbox,
            "pid": proc.pid,
            "start": process_start(proc.pid),
            "started_at": time.time(),
        }
        tmp = box / "box.json.tmp"
        tmp.write_text(json.dumps(record))
        os.replace(tmp, box / "box.json")
        return AgentBackend(str(box / "agent.sock"), timeout=self.call_timeout)

    def _wait_ready(self, sandbox: str, box: Path, agent: AgentBackend, started: float) -> None:
        """Wait until the sandbox's agent answers (its OVS is up by then); ``SandboxError`` if it dies."""
        record = self._record(sandbox)
        while time.monotonic() - started < self.ready_timeout:
            if (box / "agent.sock").exists():
                try:
                    agent.sandboxes()
                    return
                except SandboxError:
                    pass
            if not self._alive(record):
                tail = self._log_tail(box)
                raise SandboxError(f"sandbox {sandbox} stopped while starting: {tail}")
            time.sleep(0.05)
        raise SandboxError(f"sandbox {sandbox} was not ready within {self.ready_timeout:g} s")

    @staticmethod
    def _log_tail(box: Path) -> str:
        try:
            lines = (box / "box.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return " | ".join(lines[-3:])[:300] or "no output"

    def _remove(self, sandbox: str) -> None:
        """Kill the sandbox's process tree (if it is still the one recorded) and remove its folder."""
        box = self._dir(sandbox)
        try:
            record = self._record(sandbox)
        except NotFound:
            record = {}
        if self._alive(record):
            pid = int(record["pid"])
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 10
            while process_start(pid) is not None and time.monotonic() < deadline:
                time.sleep(0.02)
        shutil.rmtree(box, ignore_errors=True)

    def stop(self, sandbox: str) -> None:
        self._remove(sandbox)

    def sandboxes(self) -> list[str]:
        return sorted(p.parent.name for p in (self.state / "ns").glob("*/box.json"))

    def status(self, sandbox: str) -> dict:
        return {**self._agent(sandbox).status(sandbox), "isolation": self.isolation}

    # -- forwarded to the sandbox's agent --------------------------------------------------
    def list_files(self, sandbox: str) -> list[dict]:
        return self._agent(sandbox).list_files(sandbox)

    def read_file(self, sandbox: str, path: str) -> str:
        return self._agent(sandbox).read_file(sandbox, path)

    def write_file(self, sandbox: str, path: str, text: str) -> None:
        self._agent(sandbox).write_file(sandbox, path, text)

    def deploy(self, sandbox: str) -> dict:
        return {**self._agent(sandbox).deploy(sandbox), "isolation": self.isolation}

    def reset(self, sandbox: str) -> dict:
        return {**self._agent(sandbox).reset(sandbox), "isolation": self.isolation}

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
