"""Ryu's hub with eventlet's semantics on native threads: timeouts that fire, kills that kill.

Ryu apps (and os-ken's own ``stplib``) were written for eventlet green threads, where a
``hub.Timeout(5)`` started before ``event.wait()`` interrupts that wait after five seconds and
``hub.kill(thread)`` ends a thread at its next blocking call. os-ken's native-thread hub keeps
the names but not the behaviour: its ``Timeout`` only starts inside ``with`` and never interrupts
anything, ``kill`` does nothing, and ``getcurrent`` is a thread object instead of a function. So
stplib's port state machine waited forever in LISTEN.

Here every blocking call of the hub is a *cooperative point*, as a green thread's yield is under
eventlet: ``sleep``, ``Event.wait``, ``joinall`` and ``HubThread.wait``. At a cooperative point
the calling thread

* raises the earliest of its expired ``Timeout`` objects (the same instance the app created,
  or the exception it was given), and
* raises ``TaskExit`` if another thread asked to ``kill`` it.

A thread blocked elsewhere (a socket read, ``time.sleep``, pure computation) is interrupted at
its next cooperative point, exactly as a green thread that does not yield is not interrupted
by eventlet either. While a thread waits at a cooperative point, or in a hub ``Queue`` or
semaphore, it sets aside the app lock (``sdnlab.controller.green``) that keeps Ryu-style app
code running one piece at a time. ``install()`` puts these primitives into ``os_ken.lib.hub`` (which is also
``ryu.lib.hub`` through the alias), so os-ken's modules and Ryu apps share them.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from sdnlab.controller.green import APP_LOCK

LOG = logging.getLogger("sdnlab.controller.hub")


class TaskExit(BaseException):
    """Raised inside a thread that was ``kill``-ed; ends the thread quietly (eventlet's GreenletExit)."""


class _Task:
    """What the hub knows about one thread: its pending timeouts, a kill request, a wake-up."""

    def __init__(self) -> None:
        self.wake = threading.Event()
        self.killed = False
        self.timeouts: list[tuple[float, int, Timeout]] = []  # heap of (deadline, order, timeout)

    def next_deadline(self) -> float | None:
        """The monotonic time of the earliest pending timeout, or None."""
        while self.timeouts and not self.timeouts[0][2].pending:
            heapq.heappop(self.timeouts)
        return self.timeouts[0][0] if self.timeouts else None

    def check(self) -> None:
        """Raise a kill or an expired timeout now, if there is one."""
        if self.killed:
            self.killed = False
            raise TaskExit()
        deadline = self.next_deadline()
        if deadline is not None and time.monotonic() >= deadline:
            _, _, timeout = heapq.heappop(self.timeouts)
            timeout._fire()

    def block(self, until: float | None) -> None:
        """Sleep until ``until`` (monotonic), a pending timeout, a kill or a wake-up, whichever is first."""
        deadline = self.next_deadline()
        if until is not None and (deadline is None or until < deadline):
            deadline = until
        with APP_LOCK.suspended():  # a green thread yields here: other app code may run meanwhile
            if deadline is None:
                self.wake.wait()
            else:
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    self.wake.wait(remaining)


_TASKS: weakref.WeakKeyDictionary[threading.Thread, _Task] = weakref.WeakKeyDictionary()
_TASKS_LOCK = threading.Lock()
_ORDER = itertools.count()


def _task_of(thread: threading.Thread) -> _Task:
    with _TASKS_LOCK:
        task = _TASKS.get(thread)
        if task is None:
            task = _TASKS[thread] = _Task()
        return task


def _current_task() -> _Task:
    return _task_of(threading.current_thread())


def getcurrent() -> threading.Thread:
    """The calling thread (eventlet's ``getcurrent``; os-ken's native hub had a constant here)."""
    return threading.current_thread()


def sleep(seconds: float = 0) -> None:
    """Sleep ``seconds``; a cooperative point (timeouts and kills are raised here)."""
    task = _current_task()
    task.check()
    if seconds <= 0:
        with APP_LOCK.suspended():
            time.sleep(0)  # let other threads run, as eventlet.sleep(0) yields
        task.check()
        return
    until = time.monotonic() + seconds
    while True:
        task.wake.clear()
        task.check()
        if time.monotonic() >= until:
            return
        task.block(until)


class Timeout(BaseException):
    """eventlet's ``Timeout``: armed when created, raised in its thread at the next cooperative point.

    ``Timeout(seconds)`` raises itself; ``Timeout(seconds, exc)`` raises ``exc`` instead;
    ``Timeout(seconds, False)`` used with ``with`` ends the block silently. ``seconds=None``
    never fires. ``cancel()`` disarms it; leaving a ``with`` block cancels it.
    """

    def __init__(self, seconds: float | None = None, exception: Any = None) -> None:
        super().__init__(seconds)
        self.seconds = seconds
        self.exception = exception
        self._task: _Task | None = None
        self._pending = False
        self.start()

    def start(self) -> Timeout:
        """Arm the timeout for the calling thread (done by the constructor)."""
        if self._pending:
            self.cancel()
        if self.seconds is None:
            return self
        self._task = _current_task()
        self._pending = True
        deadline = time.monotonic() + self.seconds
        heapq.heappush(self._task.timeouts, (deadline, next(_ORDER), self))
        return self

    @property
    def pending(self) -> bool:
        """True while armed and not yet fired or cancelled."""
        return self._pending

    def cancel(self) -> None:
        """Disarm (safe to call more than once)."""
        self._pending = False

    def _fire(self) -> None:
        self._pending = False
        if self.exception is None or isinstance(self.exception, bool):
            raise self
        raise self.exception

    def __enter__(self) -> Timeout:
        if not self._pending and self.seconds is not None:
            self.start()
        return self

    def __exit__(self, typ: Any, value: Any, tb: Any) -> bool:
        self.cancel()
        return value is self and self.exception is False

    def __str__(self) -> str:
        if self.seconds is None:
            return ""
        return f"{self.seconds} second{'' if self.seconds == 1 else 's'}"

    def __repr__(self) -> str:
        return f"<hub.Timeout seconds={self.seconds} pending={self._pending}>"


class Event:
    """Ryu's ``hub.Event`` (``set``, ``clear``, ``is_set``, ``wait``); ``wait`` is a cooperative point."""

    def __init__(self) -> None:
        self._cond = False
        self._lock = threading.Lock()
        self._waiters: set[_Task] = set()

    def is_set(self) -> bool:
        """True if set."""
        return self._cond

    def set(self) -> None:
        """Set the event and wake every waiter."""
        with self._lock:
            self._cond = True
            waiters = list(self._waiters)
        for task in waiters:
            task.wake.set()

    def clear(self) -> None:
        """Clear the event."""
        self._cond = False

    def _cooperative_wait(self, timeout: float | None = None) -> bool:
        """Wait until set or ``timeout`` seconds passed; returns whether the event is set."""
        task = _current_task()
        until = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._waiters.add(task)
        try:
            while True:
                task.wake.clear()
                if self._cond:
                    return True
                task.check()
                if until is not None and time.monotonic() >= until:
                    return self._cond
                task.block(until)
        finally:
            with self._lock:
                self._waiters.discard(task)

    wait = _cooperative_wait

    @property
    def _ev(self) -> Any:
        """What patches aimed at os-ken's Event wait on (``event._ev.wait``): this event, cooperatively."""
        return _WaitOn(self)


class _WaitOn:
    """Adapter so code that patched ``hub.Event.wait`` with os-ken internals still waits cooperatively."""

    def __init__(self, event: Event) -> None:
        self._event = event

    def wait(self, timeout: float | None = None) -> bool:
        return self._event._cooperative_wait(timeout)


class HubThread(threading.Thread):
    """A hub thread: a daemon whose exceptions are logged, not raised; ``wait`` returns its result."""

    def __init__(
        self,
        target: Callable[..., Any],
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        delay: float = 0.0,
        raise_error: bool = False,
    ) -> None:
        super().__init__(name=f"hub-{getattr(target, '__name__', 'task')}", daemon=True)
        self._func = target
        self._func_args = args
        self._func_kwargs = kwargs or {}
        self._delay = delay
        self.raise_error = raise_error
        self.result: Any = None
        self.exception: BaseException | None = None
        self.finished = Event()

    def run(self) -> None:
        try:
            if self._delay > 0:
                sleep(self._delay)
            self.result = self._func(*self._func_args, **self._func_kwargs)
        except TaskExit:
            pass
        except BaseException as exc:  # a thread's uncaught error is logged, as eventlet's hub does
            self.exception = exc
            if not self.raise_error:
                LOG.error("hub: uncaught exception in %s: %s", self.name, traceback.format_exc())
        finally:
            self.finished.set()

    def wait(self, timeout: float | None = None) -> Any:
        """Wait for the thread to end (a cooperative point); returns the function's result."""
        if threading.current_thread() is self:
            raise RuntimeError("a hub thread cannot wait for itself")
        self.finished.wait(timeout)
        return self.result

    def kill(self) -> None:
        """``hub.kill(self)``."""
        kill(self)

    def cancel(self) -> None:
        """Kill the thread if it has not started its function yet (``spawn_after``); else a kill."""
        kill(self)


def spawn(func: Callable[..., Any], *args: Any, **kwargs: Any) -> HubThread:
    """Run ``func(*args, **kwargs)`` in a new hub thread."""
    raise_error = kwargs.pop("raise_error", False)
    thread = HubThread(func, args, kwargs, raise_error=raise_error)
    thread.start()
    return thread


def spawn_after(seconds: float, func: Callable[..., Any], *args: Any, **kwargs: Any) -> HubThread:
    """Run ``func`` in a new hub thread after ``seconds``; ``cancel()``/``kill`` before then skips it."""
    raise_error = kwargs.pop("raise_error", False)
    thread = HubThread(func, args, kwargs, delay=seconds, raise_error=raise_error)
    thread.start()
    return thread


def kill(thread: threading.Thread, *_args: Any) -> None:
    """End ``thread`` at its next cooperative point (at once if it is the calling thread)."""
    if thread is None or (not thread.is_alive() and thread is not threading.current_thread()):
        return
    task = _task_of(thread)
    if thread is threading.current_thread():
        raise TaskExit()
    task.killed = True
    task.wake.set()


def joinall(threads: Iterable[threading.Thread]) -> None:
    """Wait for every thread to end (a cooperative point for the caller)."""
    for thread in threads:
        if thread is None or thread is threading.current_thread():
            continue
        if isinstance(thread, HubThread):
            thread.finished.wait()
        else:
            while thread.is_alive():
                sleep(0.05)


class Queue(queue.Queue):
    """``hub.Queue`` whose ``get``/``put`` set the app lock aside while they have to wait."""

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        if block:
            try:
                return super().get(block=False)
            except queue.Empty:
                pass
            with APP_LOCK.suspended():
                return super().get(block=True, timeout=timeout)
        return super().get(block=False)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if block:
            try:
                return super().put(item, block=False)
            except queue.Full:
                pass
            with APP_LOCK.suspended():
                return super().put(item, block=True, timeout=timeout)
        return super().put(item, block=False)


class _WaitSetsTheLockAside:
    """A semaphore whose ``acquire`` sets the app lock aside only while it has to wait."""

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        if super().acquire(blocking=False):  # type: ignore[misc]
            return True
        if not blocking:
            return False
        with APP_LOCK.suspended():
            return super().acquire(blocking=True, timeout=timeout)  # type: ignore[misc]

    __enter__ = acquire


class Semaphore(_WaitSetsTheLockAside, threading.Semaphore):
    """``hub.Semaphore`` whose ``acquire`` sets the app lock aside while it has to wait."""


class BoundedSemaphore(_WaitSetsTheLockAside, threading.BoundedSemaphore):
    """``hub.BoundedSemaphore`` (an app's event-queue slots): a waiting ``acquire`` sets the lock aside."""


# Names installed into os_ken.lib.hub (ryu.lib.hub is the same module through the alias).
EXPORTS: dict[str, Any] = {
    "TaskExit": TaskExit,
    "Timeout": Timeout,
    "Event": Event,
    "HubThread": HubThread,
    "spawn": spawn,
    "spawn_after": spawn_after,
    "kill": kill,
    "joinall": joinall,
    "sleep": sleep,
    "getcurrent": getcurrent,
    "Queue": Queue,
    "Semaphore": Semaphore,
    "BoundedSemaphore": BoundedSemaphore,
}


def install() -> None:
    """Give ``os_ken.lib.hub`` (and so ``ryu.lib.hub``) these primitives (idempotent; native hub only)."""
    from os_ken.lib import hub as os_ken_hub

    if os_ken_hub.HUB_TYPE != "native":
        return
    Event.wait = Event._cooperative_wait  # in case a patch aimed at os-ken's Event reached this one
    for name, value in EXPORTS.items():
        setattr(os_ken_hub, name, value)
    os_ken_hub.SDNLAB_HUB = True


def installed() -> bool:
    """True if ``install()`` has replaced os-ken's native hub primitives."""
    from os_ken.lib import hub as os_ken_hub

    return getattr(os_ken_hub, "SDNLAB_HUB", False) and os_ken_hub.Timeout is Timeout
