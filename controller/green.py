"""One piece of a trainee's app code at a time, as under eventlet: the app lock.

Ryu ran every app on eventlet green threads: an OpenFlow event handler and a REST handler never
ran at the same moment, only one after the other, switching where the code blocked in the hub
(``hub.sleep``, an event's ``wait``, a queue). Ryu's apps rely on it without saying so:
``rest_router`` iterates its routing table in a packet-in handler while a REST call adds a route
to it, which on native threads raised ``RuntimeError: dictionary changed size during iteration``
and lost the ARP reply that resolves the route's gateway.

So code written for Ryu (any app module that is neither os-ken's nor sdnlab's own) runs holding
``APP_LOCK``: each of its event handlers (``hardening.event_loop``) and each of its REST handlers
(``ryu.app.wsgi``). Every blocking call of the hub (``sdnlab.controller.hub``: ``sleep``,
``Event.wait``, ``Queue.get``/``put``, a semaphore's ``acquire``) and sdnlab's own waits for a
switch's or a websocket client's reply release it while they wait, as a green thread yields
there, so a REST handler waiting for a stats reply lets the app's reply handler run. sdnlab's and
os-ken's own apps run without it (they are written for threads), so the built-in controller is
not slowed down. Waiting for room in a switch's send queue keeps the lock (only the send loop,
which never takes it, makes room), so a handler that sends flow-mods while walking a table
cannot see a REST call change that table halfway (eventlet would have switched there). The app
methods a websocket client calls over JSON-RPC (``WebSocketRPCServer``) take the lock too. Threads
an app spawns and websocket sessions themselves run without it: they may block in places
(sockets, ``ws.wait()``) that are not the hub's.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from typing import Any


class AppLock:
    """A re-entrant lock that a thread can set aside completely while it waits, and take back."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._local = threading.local()

    def depth(self) -> int:
        """How many times the calling thread holds the lock (0: not at all)."""
        return getattr(self._local, "depth", 0)

    def __enter__(self) -> AppLock:
        self._lock.acquire()
        self._local.depth = self.depth() + 1
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._local.depth = self.depth() - 1
        self._lock.release()

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """Release the lock for the duration of a wait (a no-op for a thread that does not hold it)."""
        depth = self.depth()
        if depth == 0:
            yield
            return
        self._local.depth = 0
        for _ in range(depth):
            self._lock.release()
        try:
            yield
        finally:
            for _ in range(depth):
                self._lock.acquire()
            self._local.depth = depth


APP_LOCK = AppLock()


@functools.lru_cache(maxsize=1024)
def written_for_ryu(module_name: str) -> bool:
    """True for app code that expects Ryu's one-at-a-time scheduling: not os-ken's, not sdnlab's."""
    from sdnlab.controller import alias

    if module_name.split(".")[0] in ("os_ken", "sdnlab"):
        return False
    # sdnlab's own files behind the ryu alias (ryu.app.wsgi, ryu.app.ofctl_rest, ...) are not
    return not (module_name.startswith(alias.ALIAS_ROOT + ".") and alias.has_own_file(module_name))


def lock_for(module_name: str) -> contextlib.AbstractContextManager[Any]:
    """``APP_LOCK`` for code of a module written for Ryu, else a context that does nothing."""
    return APP_LOCK if written_for_ryu(module_name) else contextlib.nullcontext()
