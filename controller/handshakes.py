"""Which switches every loaded app has taken in: the readiness signal of a lab whose controller is an app.

An established TCP connection is not yet a switch an app knows: the OpenFlow handshake follows,
then each app handles the switch's features (a switching hub installs its table-miss flow, a REST
app files the datapath it will answer for). A lab declared ready before that answers a REST call
made at once with 404 and drops the first packets.

When ``SDNLAB_HANDSHAKES`` names a file, ``install()`` wraps os-ken's event handlers so that each
time an app's handler for a switch's features (``EventOFPSwitchFeatures`` in the configuration
phase) or for its arrival (``EventOFPStateChange`` into the main phase) returns, normally or by
raising, the file is rewritten as::

    {"expected": ["ofp_event", "L2Switch"], "done": {"1": ["ofp_event", "L2Switch"], ...}}

``expected`` lists the apps with such a handler (written by ``expect()`` once the apps exist);
``done`` which of them have run it, per datapath id. ``taken_in()`` reads it: the number of
switches every expected app has taken in. Without the variable nothing is wrapped.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import threading
from typing import Any

ENV_FILE = "SDNLAB_HANDSHAKES"


def _arrival(ev: Any) -> int | None:
    """The datapath id a features or main-phase event announces, else None (a pure read of the event)."""
    from os_ken.controller import ofp_event
    from os_ken.controller.handler import MAIN_DISPATCHER

    if isinstance(ev, ofp_event.EventOFPSwitchFeatures):
        return getattr(ev.msg.datapath, "id", None)
    if isinstance(ev, ofp_event.EventOFPStateChange) and ev.state == MAIN_DISPATCHER:
        return getattr(ev.datapath, "id", None)
    return None


def handles_arrivals(app: Any) -> bool:
    """Whether ``app`` declares a handler (``set_ev_cls``) that runs for a switch's features in the
    configuration phase or for its arrival in the main phase."""
    from os_ken.controller import ofp_event
    from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER

    wanted = {
        ofp_event.EventOFPSwitchFeatures: CONFIG_DISPATCHER,
        ofp_event.EventOFPStateChange: MAIN_DISPATCHER,
    }
    for _name, method in inspect.getmembers(type(app), inspect.isfunction):
        callers = getattr(method, "callers", {})
        for ev_cls, phase in wanted.items():
            if ev_cls in callers and phase in (callers[ev_cls].dispatchers or [phase]):
                return True
    return False


class Ledger:
    """The file's content, kept in memory and rewritten whole (atomically) on each change."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.expected: list[str] | None = None  # not known until the apps exist: nothing written
        self.done: dict[int, set[str]] = {}
        self._lock = threading.Lock()

    def expect(self, app_names: list[str]) -> None:
        with self._lock:
            self.expected = sorted(app_names)
            self._write()

    def record(self, app_name: str, dpid: int) -> None:
        with self._lock:
            before = len(self.done.get(dpid, ()))
            self.done.setdefault(dpid, set()).add(app_name)
            if len(self.done[dpid]) != before:
                self._write()

    def _write(self) -> None:
        if self.expected is None:
            return
        data = {"expected": self.expected, "done": {str(d): sorted(a) for d, a in sorted(self.done.items())}}
        tmp = f"{self.path}.tmp"
        try:
            with open(tmp, "w") as f:
                json.dump(data, f)
            os.replace(tmp, self.path)
        except OSError:
            pass  # readiness then falls back to the caller's time limit


_LEDGER: Ledger | None = None


def install(environ: dict[str, str] | None = None) -> Ledger | None:
    """Wrap os-ken's handlers if ``SDNLAB_HANDSHAKES`` is set; returns the ledger (idempotent)."""
    global _LEDGER
    env = os.environ if environ is None else environ
    path = env.get(ENV_FILE)
    if not path:
        return None
    if _LEDGER is not None:
        return _LEDGER
    from os_ken.base import app_manager

    _LEDGER = ledger = Ledger(path)
    original = app_manager.OSKenApp.get_handlers

    def get_handlers(self: Any, ev: Any, state: Any = None) -> list:
        handlers = original(self, ev, state)
        dpid = _arrival(ev) if handlers else None
        if dpid is None:
            return handlers
        return [_recording(ledger, self.name, dpid, handler) for handler in handlers]

    app_manager.OSKenApp.get_handlers = get_handlers
    return ledger


def _recording(ledger: Ledger, app_name: str, dpid: int, handler: Any) -> Any:
    @functools.wraps(handler)
    def run(ev: Any) -> Any:
        try:
            return handler(ev)
        finally:
            ledger.record(app_name, dpid)

    return run


def expect(apps: dict[str, Any]) -> None:
    """Name the loaded apps that take switches in (call once they are instantiated)."""
    if _LEDGER is not None:
        _LEDGER.expect([name for name, app in apps.items() if handles_arrivals(app)])


def taken_in(path: str) -> int | None:
    """How many switches every expected app has taken in; None while the file is not written yet."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("expected"), list):
        return None
    expected = set(data["expected"])
    return sum(1 for apps in (data.get("done") or {}).values() if expected <= set(apps))
