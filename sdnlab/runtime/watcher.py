"""The lab watcher: what the supervisor becomes once its lab is ready (same pid, see ``become_watcher``).

It holds the hosts' shells (their namespaces live as long as they do), restarts a builtin
controller that died, with a bounded back-off (1, 2, 4, 8, 16, then every 30 s; a controller up
for a minute resets it), records restarts in ``state.json`` (``sdnlab status`` shows them),
restarts the lab's controller (builtin or app) on request (SIGUSR1 after writing
``controller-restart.json``: stop it, start it again with the same arguments, answer in
``state.json`` ``controller_restart``; the controller_restart scored scenario), and on
SIGTERM/SIGINT/SIGHUP tears the lab down. It also runs the queue classifier
(``sdnlab.runtime.queue_classifier``: ``set_queue`` on the userspace datapath, through tc
filters). It imports only the standard library until it has to restart a controller or tear
down, so an idle lab costs a few MiB here instead of the builder's 30 (Mininet, the topology
loader, networkx).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any, NoReturn

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
RESTART_SIGNAL = signal.SIGUSR1  # "restart the controller now" (certification.scenario_restart)
RESTART_REQUEST = "controller-restart.json"  # in the lab directory: {"id": ...} of the request
RESTART_CAPABILITY = "controller-restart"  # listed in state.json ``requests`` by a watcher that takes it
STOP_GRACE_S = 3.0  # a controller asked to stop (SIGTERM) is killed after this
RESTART_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)  # waits before each restart; the last repeats
STABLE_S = 60.0  # a controller up this long resets the back-off
POLL_S = 0.5
QUEUE_POLL_S = 0.25  # while a switch of the lab has queues: the flow tables are read 4 times a second


class Stop(Exception):
    """A stop signal arrived."""


def _on_signal(signum: int, frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


def log(level: str, message: str) -> None:
    """One line in the supervisor's log (stderr), in the format the builder's logging uses."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    sys.stderr.write(f"{stamp} {level} sdnlab.watcher: {message}\n")
    sys.stderr.flush()


def restart_delay(failures: int) -> float:
    """Seconds to wait before restarting a controller that died ``failures`` times in a row (1-based)."""
    return RESTART_BACKOFF_S[min(max(failures, 1), len(RESTART_BACKOFF_S)) - 1]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _reap(pid: int) -> int | None:
    """Exit code of our child ``pid`` once it has ended (reaped now), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child, or reaped already: judge by /proc
        return None if _alive(pid) else -1
    return os.waitstatus_to_exitcode(status) if done else None


def _children() -> list[int]:
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as listing:
            return [int(pid) for pid in listing.read().split()]
    except (OSError, ValueError):
        return []


def end_idle_shells(state: dict[str, Any]) -> None:
    """End the Mininet shells of switches and of the controller node: only hosts' shells hold a namespace.

    They only ran ``ovs-vsctl`` during the build and nothing can talk to them once the builder
    is gone; each still costs a bash process.
    """
    keep = {h.get("pid") for h in state.get("hosts", [])}
    for child in _children():
        if child in keep:
            continue
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if any(arg.startswith(b"mininet:") for arg in argv):
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(child, 0)
            except ChildProcessError:
                pass


def _write_state(path: str, state: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        json.dump(state, out, indent=1, sort_keys=True)
    os.replace(tmp, path)


def _classifier(lab: str, state: dict[str, Any]) -> Any:
    """The lab's queue classifier (``sdnlab.runtime.queue_classifier``), or None if it cannot start."""
    try:
        from sdnlab.runtime.queue_classifier import QueueClassifier

        with open(os.path.join(lab, "spec.json")) as f:
            protocols = str(json.load(f).get("protocols") or "OpenFlow13")
    except (OSError, ValueError, ImportError) as exc:
        log("WARNING", f"queue classifier not started: {exc}")
        return None
    bridges = [s["bridge"] for s in state.get("switches", []) if s.get("bridge")]
    return QueueClassifier(lab, bridges, log, version=protocols.split(",")[-1])


def _stop(pid: int) -> None:
    """Stop our child ``pid``: SIGTERM, SIGKILL after ``STOP_GRACE_S``; reaped."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        if _reap(pid) is not None or not _alive(pid):
            return
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def restart_on_request(name: str, state: dict[str, Any], state_path: str) -> bool:
    """Stop the lab's controller and start it again with the same arguments (its state is lost);
    answer in ``state["controller_restart"]`` (the request's id, ok, start seconds or error).
    Returns whether a controller runs afterwards. A controller that fails to start leaves no
    process behind (``start_controller`` ends it)."""
    lab = os.path.join(os.environ.get("SDNLAB_RUN_DIR", "/run/sdnlab"), name)
    try:
        with open(os.path.join(lab, RESTART_REQUEST)) as f:
            request = json.load(f)
    except (OSError, ValueError):
        request = {}
    ctl = state.setdefault("controller", {})
    reply: dict[str, Any] = {"id": request.get("id") if isinstance(request, dict) else None, "ok": False}
    if ctl.get("mode") not in ("builtin", "app"):
        reply["error"] = f"the lab's controller ({ctl.get('mode')}) is not run by sdnlab"
        state["controller_restart"] = reply
        _write_state(state_path, state)
        return False
    if ctl.get("pid"):
        _stop(int(ctl["pid"]))
    ctl["pid"] = None
    _write_state(state_path, state)
    log("INFO", "controller stopped on request; starting it again")
    from sdnlab.runtime import paths
    from sdnlab.runtime.supervisor import start_controller

    started = time.monotonic()
    try:
        spec = paths.read_json(paths.lab_dir(name) / "spec.json") or {}
        proc = start_controller(spec, paths.lab_dir(name), paths.lab_dir(name) / "topology.json")
    except Exception as exc:  # reported to the requester; a builtin one is retried with back-off
        reply["error"] = str(exc) or exc.__class__.__name__
        state["controller_restart"] = reply
        _write_state(state_path, state)
        log("WARNING", f"restarting the controller on request failed: {reply['error']}")
        return False
    if proc is None:
        return False
    ctl["pid"] = proc.pid
    ctl["restarts"] = int(ctl.get("restarts", 0)) + 1
    ctl["last_restart"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    reply.update(ok=True, pid=proc.pid, start_s=round(time.monotonic() - started, 3))
    state["controller_restart"] = reply
    _write_state(state_path, state)
    log("INFO", f"controller restarted on request (pid {proc.pid}, {reply['start_s']} s)")
    return True


def watch(name: str, state: dict[str, Any]) -> NoReturn:
    """Keep a ready lab until a stop signal (``Stop``): reap children, restart a dead builtin
    controller, restart the controller on request, keep the queue classifier's tc filters in step
    with the flows."""
    lab = os.path.join(os.environ.get("SDNLAB_RUN_DIR", "/run/sdnlab"), name)
    classifier = _classifier(lab, state)
    try:
        _watch(name, state, lab, classifier)
    finally:
        if classifier is not None:
            classifier.close()


def _tick_classifier(classifier: Any) -> float:
    """One classifier round; returns how long to sleep before the next (shorter while queues exist)."""
    if classifier is None:
        return POLL_S
    try:
        classifier.tick()
        return QUEUE_POLL_S if classifier.active else POLL_S
    except Stop:
        raise
    except Exception as exc:  # the classifier must never stop the lab's watcher
        log("WARNING", f"queue classifier: {exc.__class__.__name__}: {exc}")
        return POLL_S


def _watch(name: str, state: dict[str, Any], lab: str, classifier: Any) -> NoReturn:
    state_path = os.path.join(lab, "state.json")
    ctl = state.setdefault("controller", {})
    failures, next_try, started = 0, None, time.monotonic()
    pause = POLL_S
    signal.pthread_sigmask(signal.SIG_BLOCK, [RESTART_SIGNAL])  # taken by sigtimedwait below
    state["requests"] = [RESTART_CAPABILITY]
    _write_state(state_path, state)
    while True:
        if signal.sigtimedwait([RESTART_SIGNAL], pause) is not None:
            if restart_on_request(name, state, state_path):
                failures, next_try, started = 0, None, time.monotonic()
            elif ctl.get("mode") == "builtin":  # the builtin controller must come back
                failures += 1
                next_try = time.monotonic() + restart_delay(failures)
            continue
        pause = _tick_classifier(classifier)
        pid = ctl.get("pid")
        for child in _children():  # host shells or an old controller that ended
            if child != pid:
                _reap(child)
        if next_try is None:
            if not pid:
                continue  # no controller of our own (none, remote), or an app that exited
            code = _reap(pid)
            if code is None and _alive(pid):
                if failures and time.monotonic() - started > STABLE_S:
                    failures = 0
                continue
            ctl["pid"] = None
            if ctl.get("mode") != "builtin":  # a trainee's app: report it, never restart it
                state["controller_exited"] = code
                _write_state(state_path, state)
                log("WARNING", f"controller exited with code {code}")
                continue
            failures += 1
            next_try = time.monotonic() + restart_delay(failures)
            _write_state(state_path, state)
            log(
                "WARNING",
                f"builtin controller exited (code {code}); restarting in {restart_delay(failures):g} s",
            )
            continue
        if time.monotonic() < next_try:
            continue
        next_try = None
        from sdnlab.runtime import paths
        from sdnlab.runtime.supervisor import start_controller

        try:
            spec = paths.read_json(paths.lab_dir(name) / "spec.json") or {}
            proc = start_controller(spec, paths.lab_dir(name), paths.lab_dir(name) / "topology.json")
        except Exception as exc:  # any failure to restart is retried with back-off; the lab stays up
            failures += 1
            next_try = time.monotonic() + restart_delay(failures)
            log("WARNING", f"restarting the builtin controller failed: {exc}")
            continue
        if proc is None:
            continue
        started = time.monotonic()
        ctl["pid"] = proc.pid
        ctl["restarts"] = int(ctl.get("restarts", 0)) + 1
        ctl["last_restart"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        _write_state(state_path, state)
        log("INFO", f"builtin controller restarted (pid {proc.pid}, restart {ctl['restarts']})")


def main(name: str) -> int:
    """Run lab ``name``'s watcher (stop signals arrive blocked from the builder): watch, then tear down."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _on_signal)
    lab = os.path.join(os.environ.get("SDNLAB_RUN_DIR", "/run/sdnlab"), name)
    try:
        with open(os.path.join(lab, "state.json")) as f:
            state = json.load(f)
    except (OSError, ValueError):
        state = {}
    try:
        end_idle_shells(state)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        watch(name, state)
    except Stop as why:
        log("INFO", f"stopping lab {name} ({why})")
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        from sdnlab.runtime import teardown

        teardown.teardown_lab(name)
    return 0
