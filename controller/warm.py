"""A warm spare runner: a controller process that has done its imports before it is needed.

Starting ``python -m sdnlab.controller.runner`` costs the interpreter and os-ken's imports (0.5 s
on an idle machine, 2 s on the busy 2-core test machine) before it loads the app. Replay grading
starts a fresh runner for every check, so a long-lived grader (the classroom agent) keeps one
spare: ``python -m sdnlab.controller.warm`` imports what the runner needs and then waits on its
standard input for one line of JSON, ``{"argv": [...], "env": {...}, "cwd": "..."}``. It takes
that environment and folder and becomes the runner (``runner.main(argv)``): from there on it is
exactly the process a cold start would have made (same user, same namespaces, same limits, no
code of any trainee loaded before), used once and stopped like any runner.

``WarmSpares`` holds at most one spare. ``take(apps, of_port, env)`` hands it out as a launched
``ControllerProcess`` and starts the next spare in the background; without a usable spare (none
yet, it died, or the caller's environment differs from the one the spare started with, other
than the run's own variables) it launches a cold runner. A spare exits when its standard input
closes (its owner ended) or after ``SPARE_IDLE_S`` unused.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import threading

from sdnlab.controller.process import ControllerProcess

SPARE_IDLE_S = 900.0  # an unused spare exits after this long (it holds ~50 MB)
PRELOAD = (
    "sdnlab.controller.runner",
    "sdnlab.controller.hardening",
    "sdnlab.controller.app_errors",
    "sdnlab.controller.appmanager",
    "sdnlab.controller.handshakes",
    "sdnlab.grader.replay.record",
    "sdnlab.grader.replay.sync",
    "os_ken.controller.controller",
    "os_ken.controller.ofp_handler",
    "os_ken.ofproto.ofproto_v1_3_parser",
    "os_ken.lib.packet.packet",
    "os_ken.lib.ofctl_utils",
    "os_ken.topology.switches",
    "sdnlab.controller.hub",
)


class WarmSpares:
    """At most one spare runner, handed out by ``take`` and replaced in the background."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spare: tuple[subprocess.Popen, str, dict[str, str]] | None = None  # proc, log, env

    def start_spare(self) -> None:
        """Start a spare now unless one is there (returns at once; it imports in the background)."""
        with self._lock:
            if self._spare is not None and self._spare[0].poll() is None:
                return
            env = dict(os.environ)
            handle, log_path = tempfile.mkstemp(prefix="sdnlab-ctl-", suffix=".log")
            with os.fdopen(handle, "wb") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "sdnlab.controller.warm"],
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            self._spare = (proc, log_path, env)

    def take(self, apps: list[str], of_port: int, env: dict[str, str]) -> ControllerProcess:
        """A launched runner for ``apps`` on ``of_port`` with ``env`` added: the spare, else a cold one.

        The caller waits for it to listen (its first connection) and stops it as usual.
        """
        ctl = ControllerProcess(apps, of_port, env=env)
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            proc, log_path, spare_env = spare
            wanted = {k: v for k, v in ctl.env.items() if k not in env}
            if proc.poll() is None and wanted == {k: v for k, v in spare_env.items() if k not in env}:
                request = {"argv": ctl.argv[3:], "env": ctl.env, "cwd": os.getcwd()}
                try:
                    assert proc.stdin is not None
                    proc.stdin.write((json.dumps(request) + "\n").encode())
                    proc.stdin.close()
                except OSError:  # it died just now: a cold start below
                    pass
                else:
                    ctl.proc, ctl.log_path = proc, log_path
                    self.start_spare()
                    return ctl
            _discard(proc, log_path)
        ctl.launch()
        self.start_spare()
        return ctl

    def close(self) -> None:
        """Stop the spare (also happens by itself when this process ends: its input closes)."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            _discard(spare[0], spare[1])


def _discard(proc: subprocess.Popen, log_path: str) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    try:
        os.unlink(log_path)
    except OSError:
        pass


def main() -> None:
    """The spare: import, wait for the request, become the runner (never returns)."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    from sdnlab.controller import options

    options.register()  # os-ken's and the runner's options, as parsing the request's flags does first
    ready, _, _ = select.select([sys.stdin.buffer], [], [], SPARE_IDLE_S)
    line = sys.stdin.buffer.readline() if ready else b""
    if not line.strip():  # the owner ended or never came back
        os._exit(0)
    request = json.loads(line)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    from sdnlab.controller import runner

    sys.argv = [sys.argv[0], *request["argv"]]
    runner.main(request["argv"], prog="sdnlab.controller.runner")


if __name__ == "__main__":
    main()
