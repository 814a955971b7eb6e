"""Records the failures of apps' event handlers as JSON Lines, for feedback that names the app's line.

When the environment variable ``SDNLAB_APP_ERRORS`` names a file, ``install()`` wraps every
event handler os-ken hands out (``OSKenApp.get_handlers``) so that an exception escaping it is
appended to that file as one JSON object per line::

    {"time": 1764889200.5, "kind": "exception", "app": "L2Switch", "handler": "packet_in",
     "exc_type": "AttributeError", "message": "...", "file": "/ws/l2_switch.py", "line": 58,
     "count": 12}

``file``/``line`` are the innermost frame of the traceback inside the app's own source (the
folder of the app's module), else where the handler is defined. ``count`` is how often this
handler failed this way so far: the first failure is written at once, repeats at most once a
second per (app, handler, type, line), and the final counts when the controller stops; a reader
keeps the last record per key. A watchdog also writes ``"kind": "hang"`` once per call when a
handler has not returned after ``SDNLAB_APP_HANG_S`` seconds (default 5), with the line it is
running. The exception itself still propagates to the event loop (which logs it and goes on).
Without the environment variable nothing is wrapped.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from types import FrameType, TracebackType
from typing import Any

ENV_FILE = "SDNLAB_APP_ERRORS"
ENV_HANG_S = "SDNLAB_APP_HANG_S"
DEFAULT_HANG_S = 5.0
REPEAT_EVERY_S = 1.0


def app_source_dir(app: Any) -> str | None:
    """The folder holding the app class's source file, or None."""
    module = sys.modules.get(type(app).__module__)
    path = getattr(module, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) if path else None


def _in_dir(filename: str, directory: str | None) -> bool:
    return directory is not None and os.path.abspath(filename).startswith(directory + os.sep)


def innermost_app_line(tb: TracebackType | None, directory: str | None) -> tuple[str, int] | None:
    """(file, line) of the innermost traceback frame whose file lies in ``directory``."""
    found = None
    while tb is not None:
        if _in_dir(tb.tb_frame.f_code.co_filename, directory):
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def innermost_app_frame(frame: FrameType | None, directory: str | None) -> tuple[str, int] | None:
    """(file, line) of the innermost frame of a running stack whose file lies in ``directory``."""
    while frame is not None:
        if _in_dir(frame.f_code.co_filename, directory):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None


def _handler_location(handler: Any) -> tuple[str | None, int | None]:
    code = getattr(getattr(handler, "__func__", handler), "__code__", None)
    return (code.co_filename, code.co_firstlineno) if code else (None, None)


class ErrorRecorder:
    """Counts handler failures and appends them to a JSON Lines file (thread-safe)."""

    def __init__(self, path: str, hang_s: float = DEFAULT_HANG_S) -> None:
        self.path = path
        self.hang_s = hang_s
        self._lock = threading.Lock()
        self._counts: dict[tuple, int] = {}
        self._written: dict[tuple, tuple[float, int]] = {}  # key -> (monotonic time, count written)
        self._last: dict[tuple, dict] = {}
        self._running: dict[
            int, tuple[float, Any, Any, bool]
        ] = {}  # thread id -> (start, app, handler, reported)
        self._watchdog: threading.Thread | None = None

    def _write(self, record: dict) -> None:
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")

    def exception(self, app: Any, handler: Any, exc: BaseException) -> None:
        """Count one failure of ``handler`` and write it if it is new or a second has passed."""
        where = innermost_app_line(exc.__traceback__, app_source_dir(app)) or _handler_location(handler)
        name = getattr(handler, "__name__", str(handler))
        key = (app.name, name, type(exc).__name__, where[0], where[1])
        with self._lock:
            count = self._counts[key] = self._counts.get(key, 0) + 1
            record = {
                "time": time.time(),
                "kind": "exception",
                "app": app.name,
                "handler": name,
                "exc_type": type(exc).__name__,
                "message": str(exc),
                "file": where[0],
                "line": where[1],
                "count": count,
            }
            self._last[key] = record
            now = time.monotonic()
            last_written = self._written.get(key)
            if last_written is None or now - last_written[0] >= REPEAT_EVERY_S:
                self._written[key] = (now, count)
                self._write(record)

    def flush(self) -> None:
        """Write the final count of every failure whose last count was not written yet."""
        with self._lock:
            for key, record in self._last.items():
                if self._written.get(key, (0, 0))[1] != record["count"]:
                    self._written[key] = (time.monotonic(), record["count"])
                    self._write(dict(record, time=time.time()))

    def started(self, app: Any, handler: Any) -> None:
        self._running[threading.get_ident()] = (time.monotonic(), app, handler, False)

    def finished(self) -> None:
        self._running.pop(threading.get_ident(), None)

    def check_hangs(self) -> None:
        """Write a ``hang`` record for every handler call running longer than ``hang_s`` (once per call)."""
        now = time.monotonic()
        frames = sys._current_frames()
        for ident, (start, app, handler, reported) in list(self._running.items()):
            if reported or now - start < self.hang_s:
                continue
            self._running[ident] = (start, app, handler, True)
            where = innermost_app_frame(frames.get(ident), app_source_dir(app)) or _handler_location(handler)
            with self._lock:
                self._write(
                    {
                        "time": time.time(),
                        "kind": "hang",
                        "app": app.name,
                        "handler": getattr(handler, "__name__", str(handler)),
                        "exc_type": None,
                        "message": f"handler did not return for {self.hang_s:g} s",
                        "file": where[0],
                        "line": where[1],
                        "count": 1,
                    }
                )

    def start_watchdog(self) -> None:
        """Check for hanging handlers every quarter of ``hang_s`` in a daemon thread."""

        def watch() -> None:
            while True:
                time.sleep(max(0.05, self.hang_s / 4))
                self.check_hangs()

        self._watchdog = threading.Thread(target=watch, name="app-hang-watchdog", daemon=True)
        self._watchdog.start()

    def wrap(self, app: Any, handler: Any) -> Any:
        """``handler`` recording its failures and run time; the wrapper keeps its name and ``callers``."""
        if getattr(handler, "sdnlab_recorded", False):
            return handler

        @functools.wraps(handler)
        def recorded(ev: Any) -> Any:
            self.started(app, handler)
            try:
                return handler(ev)
            except Exception as exc:
                self.exception(app, handler, exc)
                raise
            finally:
                self.finished()

        recorded.sdnlab_recorded = True  # type: ignore[attr-defined]  # marker attribute on a function
        if hasattr(handler, "callers"):
            recorded.callers = handler.callers  # type: ignore[attr-defined]  # os-ken's dispatch table
        return recorded


_RECORDER: ErrorRecorder | None = None


def recorder() -> ErrorRecorder | None:
    """The installed recorder, or None."""
    return _RECORDER


def install(environ: dict[str, str] | None = None) -> ErrorRecorder | None:
    """Wrap os-ken's handlers if ``SDNLAB_APP_ERRORS`` is set; returns the recorder (idempotent)."""
    global _RECORDER
    env = os.environ if environ is None else environ
    path = env.get(ENV_FILE)
    if not path:
        return None
    if _RECORDER is not None:
        return _RECORDER
    from os_ken.base import app_manager

    try:
        hang_s = float(env.get(ENV_HANG_S, DEFAULT_HANG_S))
    except ValueError:
        hang_s = DEFAULT_HANG_S
    _RECORDER = rec = ErrorRecorder(path, hang_s)
    original = app_manager.OSKenApp.get_handlers

    def get_handlers(self: Any, ev: Any, state: Any = None) -> list:
        return [rec.wrap(self, handler) for handler in original(self, ev, state)]

    app_manager.OSKenApp.get_handlers = get_handlers
    rec.start_watchdog()
    return rec
