"""Starting and stopping a controller process (``python -m sdnlab.controller.runner``).

Used by tests, benchmarks and anything else that needs a controller on a given port:
``ControllerProcess(apps, of_port=..., rest_port=...)`` starts the runner, ``wait_ready``
waits until the OpenFlow (and REST) port accepts connections, ``stop`` sends SIGTERM and
returns how long the process took to exit. The process's output goes to a temporary log file
that ``stop`` removes (``output()`` still returns what it held).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from sdnlab.controller.errors import ListenError

# The wait ends as soon as the port listens (4 s measured at load 10); the limit only
# decides when a controller that never listens is given up on. On a 2-core machine at load 20
# (the shared test machine) starting the builtin app took 17-33 s: 15 s failed whole modules.
START_TIMEOUT_S = 60.0


def port_open(host: str, port: int) -> bool:
    """True if a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class ControllerProcess:
    """A runner subprocess whose output goes to a temporary log file."""

    def __init__(
        self,
        apps: list[str],
        of_port: int,
        rest_port: int | None = None,
        *,
        extra_args: tuple[str, ...] = (),
        env: dict | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.apps = list(apps)
        self.of_port = of_port
        self.rest_port = rest_port
        self.host = host
        self.argv = [
            sys.executable,
            "-m",
            "sdnlab.controller.runner",
            "--ofp-tcp-listen-port",
            str(of_port),
            "--ofp-listen-host",
            host,
        ]
        if rest_port is not None:
            self.argv += ["--wsapi-port", str(rest_port), "--wsapi-host", host]
        self.argv += list(extra_args) + self.apps
        self.env = dict(os.environ, **(env or {}))
        self.log_path: str | None = None
        self._final_output = ""
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = START_TIMEOUT_S) -> ControllerProcess:
        """Start the process and wait until it listens (stopping it again if it does not)."""
        if port_open(self.host, self.of_port):
            raise ListenError(f"OpenFlow {self.host}:{self.of_port}: already in use by another process")
        self.launch()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def launch(self) -> ControllerProcess:
        """Start the process without waiting for it to listen (the caller's first connection waits)."""
        handle, self.log_path = tempfile.mkstemp(prefix="sdnlab-ctl-", suffix=".log")
        with os.fdopen(handle, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        return self

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float) -> None:
        """Wait until the OpenFlow port accepts connections (a REST server binds before it)."""
        if self.proc is None:
            raise ListenError("controller not started")
        deadline = time.monotonic() + timeout
        ports = [self.of_port]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ListenError(f"controller exited with {self.proc.returncode}: {self.output()[-2000:]}")
            if all(port_open(self.host, port) for port in ports):
                return
            time.sleep(0.05)
        raise ListenError(f"controller not listening on {ports} after {timeout}s: {self.output()[-2000:]}")

    def output(self) -> str:
        """Everything the process printed so far (also after ``stop``)."""
        if self.log_path is None:
            return self._final_output
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return self._final_output

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> float:
        """Send ``sig``, wait for the exit and remove the log file; returns the seconds it took.

        The process is killed if it has not exited after ``timeout``.
        """
        took = 0.0
        if self.proc is not None and self.proc.poll() is None:
            started = time.monotonic()
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            took = time.monotonic() - started
        self._remove_log()
        return took

    def _remove_log(self) -> None:
        if self.log_path is None:
            return
        self._final_output = self.output()
        try:
            os.unlink(self.log_path)
        except OSError:
            pass
        self.log_path = None

    def __enter__(self) -> ControllerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
