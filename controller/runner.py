"""``ryu-manager`` on os-ken: parse Ryu's flags, load apps, serve until SIGTERM or Ctrl-C.

Usage: ``python -m sdnlab.controller.runner [flags] MODULE_OR_FILE...`` (also installed as the
``ryu-manager`` console script and behind ``sdnlab controller run``). Flags are Ryu's:
``--ofp-tcp-listen-port`` (default 6653), ``--ofp-listen-host`` (default 127.0.0.1),
``--observe-links``, ``--wsapi-host`` (default 127.0.0.1), ``--wsapi-port`` (default 8080),
``--verbose``, ``--config-file`` and the other os-ken options.

Stopping: os-ken's native hub cannot kill threads and app threads are not daemons, so a plain
``run_apps`` hangs on Ctrl-C. Here the main thread only waits for a signal; on SIGTERM/SIGINT it
gives the apps' ``close()`` hooks a short grace period, flushes the logs and leaves with
``os._exit`` (which closes every switch and REST socket), well within two seconds.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING

import sdnlab.controller.alias as alias
from sdnlab.controller import options
from sdnlab.controller.errors import ListenError
from sdnlab.errors import ControllerError

if TYPE_CHECKING:
    from sdnlab.controller.appmanager import CanonicalAppManager

LOG = logging.getLogger("sdnlab.controller.runner")

DEFAULT_APPS = ("os_ken.controller.ofp_handler",)
CLOSE_GRACE_S = 0.7  # time given to apps' close() hooks before the process exits
EXIT_OK = 0
EXIT_STOPPED = 1  # every service thread ended on its own (for example a listener died)
EXIT_APP_FAILED = 1  # an app raised while being loaded or started


def check_listen(host: str, port: int, what: str) -> None:
    """Raise ``ListenError`` if ``host:port`` cannot be bound right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    except OSError as exc:
        raise ListenError(f"{what} {host}:{port}: cannot listen: {exc.strerror}") from exc
    finally:
        probe.close()


def _init_logging(conf) -> None:
    import os_ken.log

    root = logging.getLogger()
    for handler in list(root.handlers):  # e.g. the sdnlab CLI's basicConfig handler
        root.removeHandler(handler)
    os_ken.log.init_log()
    if not conf.verbose and conf.default_log_level is None:
        # os-ken's per-connection chatter stays at debug level unless --verbose
        logging.getLogger("os_ken.controller.controller").setLevel(logging.WARNING)


def _close_apps(manager) -> None:
    def close_all() -> None:
        for app in list(manager.applications.values()):
            close = getattr(app, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # an app's close hook must not block the exit
                    LOG.exception("%s: close() failed", app.name)

    closer = threading.Thread(target=close_all, name="close-apps", daemon=True)
    closer.start()
    closer.join(CLOSE_GRACE_S)


class Runner:
    """Loads apps into os-ken and serves them until ``stop()`` (or a signal) is called."""

    def __init__(self, app_names: list[str]) -> None:
        self.app_names = app_names
        self._stop = threading.Event()
        self.manager: CanonicalAppManager | None = None

    def stop(self, *_args) -> None:
        """Ask the serving loop to end (safe from a signal handler)."""
        self._stop.set()

    def start(self) -> list[threading.Thread]:
        """Load, instantiate and start the apps; returns their service threads."""
        from os_ken import cfg

        from sdnlab.controller import app_errors, hardening
        from sdnlab.controller.appmanager import install_manager, resolve_app_name

        hardening.install()  # every os-ken workaround, the hub's eventlet semantics included
        app_errors.install()  # only when SDNLAB_APP_ERRORS names a file
        from sdnlab.grader.replay import record, sync

        sync.install()  # only when SDNLAB_REPLAY_SYNC is set (a replay's runner); before the recorder
        record.install()  # only when SDNLAB_OF_RECORD names a file; after hardening's parser
        from sdnlab.controller import handshakes

        handshakes.install()  # only when SDNLAB_HANDSHAKES names a file (a lab's readiness)
        conf = cfg.CONF
        check_listen(conf.ofp_listen_host, conf.ofp_tcp_listen_port, "OpenFlow")
        names = [resolve_app_name(name) for name in self.app_names] or list(DEFAULT_APPS)
        self.manager = install_manager()
        self.manager.load_apps(names)
        contexts = self.manager.create_contexts()
        services = self.manager.instantiate_apps(**contexts)
        handshakes.expect(dict(self.manager.applications))
        return services

    def serve(self) -> int:
        """Start the apps and block until stopped; returns the exit code."""
        services = self.start()
        code = EXIT_OK
        while not self._stop.wait(0.2):
            if services and not any(thread.is_alive() for thread in services):
                LOG.error("controller stopped: no service thread is running")
                code = EXIT_STOPPED
                break
        LOG.info("stopping")
        _close_apps(self.manager)
        from sdnlab.controller import app_errors

        errors = app_errors.recorder()
        if errors is not None:
            errors.flush()
        return code


def _exit(code: int) -> None:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None, prog: str = "ryu-manager") -> None:
    """Parse ``argv``, run the controller, exit the process (never returns)."""
    argv = sys.argv[1:] if argv is None else argv
    alias.install()
    try:
        conf = options.parse(argv, prog=prog)
    except SystemExit as exc:  # --help or a usage error, already printed by argparse
        _exit(exc.code if isinstance(exc.code, int) else 2)
    except ControllerError as exc:  # a bad --config-file
        print(f"{prog}: error: {exc}", file=sys.stderr)
        _exit(exc.exit_code)
    _init_logging(conf)
    runner = Runner(list(conf.app_lists) + list(conf.app))
    signal.signal(signal.SIGTERM, runner.stop)
    signal.signal(signal.SIGINT, runner.stop)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 PID`: every thread's stack
    # a runner (re)started by the lab's watcher inherits its blocked SIGUSR1 (its restart request)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGUSR1})
    try:
        code = runner.serve()
    except ControllerError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    except Exception:  # an app's own bug (for example in its __init__): show where, then leave
        LOG.exception("an app failed while starting")
        code = EXIT_APP_FAILED
    _exit(code)


def ryu_manager_main() -> None:
    """Entry point of the ``ryu-manager`` console script."""
    main(prog="ryu-manager")


if __name__ == "__main__":
    main(prog="sdnlab.controller.runner")
