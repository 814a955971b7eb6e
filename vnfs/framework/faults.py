"""Describe an exception raised by a VNF's own code in one line: where it happened and what.

A researcher's ``handle``, ``tick`` or ``parse_config`` can raise anything. The CLI must not
print a framework traceback for that, but the researcher needs the line of *their* code that
failed. ``code_location`` picks the innermost traceback frame in the VNF's source file (or the
innermost frame when the file is not on the stack); ``describe`` joins that with the exception:
``KeyError: 'missing' at myvnf.py:8 in handle (return table['missing'])``. Pure functions.
"""

from __future__ import annotations

import contextlib
import inspect
import linecache
import os
import signal
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path


def source_file(cls: type) -> str | None:
    """The file a VNF class was defined in, or None (built in C, or unknown)."""
    try:
        return inspect.getsourcefile(cls) or inspect.getfile(cls)
    except (TypeError, OSError):
        return None


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def code_location(exc: BaseException, prefer_file: str | None = None) -> traceback.FrameSummary | None:
    """The frame to show for ``exc``: the innermost one in ``prefer_file``, else the innermost."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return None
    if prefer_file:
        for frame in reversed(frames):
            if _same_file(frame.filename, prefer_file):
                return frame
    return frames[-1]


def display_path(filename: str) -> str:
    """A path relative to the working directory when that is shorter."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return relative if len(relative) < len(filename) else filename


def exception_text(exc: BaseException) -> str:
    """``Type: message`` (just ``Type`` when the message is empty), on one line."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def describe(exc: BaseException, prefer_file: str | None = None, budget: float | None = None) -> str:
    """One line: the exception, then the file:line, function and source line where it was raised."""
    text = stop_text(exc, budget)
    frame = code_location(exc, prefer_file)
    if frame is None:
        return text
    where = f"{display_path(frame.filename)}:{frame.lineno} in {frame.name}"
    line = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
    return f"{text} at {where}" + (f" ({line})" if line else "")


def location(exc: BaseException, prefer_file: str | None = None) -> str:
    """Just ``file:line`` of the frame ``describe`` would show ('' when there is no traceback)."""
    frame = code_location(exc, prefer_file)
    return f"{Path(frame.filename).name}:{frame.lineno}" if frame else ""


class ProcessExitCalled(BaseException):
    """A VNF's own code called ``os._exit(code)`` while sdnlab guarded it (offline or at import).

    A BaseException like SystemExit, so the VNF's own ``except Exception`` cannot swallow it.
    """

    def __init__(self, code: int) -> None:
        super().__init__(f"os._exit({code}) called")
        self.code = code


class TimeBudgetExceeded(BaseException):
    """A VNF's own code ran longer than its time budget (an endless loop, most likely)."""


def _refuse_exit(code: int = 0) -> None:
    raise ProcessExitCalled(code)


@contextlib.contextmanager
def guarded_exits() -> Iterator[None]:
    """While inside: ``os._exit`` raises ProcessExitCalled instead of ending the process."""
    saved = os._exit
    os._exit = _refuse_exit  # type: ignore[assignment]  # the replacement raises instead of returning NoReturn
    try:
        yield
    finally:
        os._exit = saved


def _over_budget(signum: int, frame: object) -> None:
    raise TimeBudgetExceeded()


@contextlib.contextmanager
def time_budget(seconds: float | None) -> Iterator[None]:
    """Raise TimeBudgetExceeded inside the block after ``seconds`` (main thread only; else no limit)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _over_budget)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def stop_text(exc: BaseException, budget: float | None = None) -> str:
    """How a run-stopping exception of a VNF's code is named: ``sys.exit(3)``, ``os._exit(0)``, ..."""
    if isinstance(exc, SystemExit):
        return (
            f"called sys.exit({exc.code!r}) (SystemExit)"
            if exc.code is not None
            else "called sys.exit() (SystemExit)"
        )
    if isinstance(exc, ProcessExitCalled):
        return f"called os._exit({exc.code})"
    if isinstance(exc, TimeBudgetExceeded):
        return (
            f"ran longer than its time budget of {budget:g} s (an endless loop?)"
            if budget
            else "ran too long"
        )
    if isinstance(exc, KeyboardInterrupt):
        return "was interrupted (Ctrl-C)"
    return exception_text(exc)
