"""The runner's side of replay's sync: an echo that is answered once every app is done.

A replay step is over when the trainee's app has handled everything the simulated switches sent
and every message it sent back has arrived. Waiting for a quiet moment guesses that (too short
under load, wasted time otherwise); this asks. When ``SDNLAB_REPLAY_SYNC`` is set (only replay
sets it), ``install()`` takes an ECHO_REQUEST whose data is ``SYNC_DATA`` + a token away from
os-ken's echo handler and hands it to one sync thread, which

1. queues a ``SyncMarker`` event to every app (behind every event queued before it, in order:
   the packet-ins the switch sent before the echo among them),
2. waits until every app's event loop has taken its marker (so each app handled all it had),
3. repeats from 1 while any app was sent an event meanwhile (one app's handler feeding another,
   or another switch's messages), then
4. sends ``SYNC_DONE`` + token + ``/`` + the number of requests with that token it answers now,
   as an ECHO_REPLY on *every* switch connection: each goes into that switch's send queue behind
   whatever the handlers sent to it, so a switch that has counted the answers to all the
   requests of a token has also received everything the app sent it before.

A handler that never returns holds its marker: the switch's wait for the answer is what times
out (``sdnlab.grader.replay.sim``). Threads an app spawns itself are not waited for.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

ENV = "SDNLAB_REPLAY_SYNC"
SYNC_DATA = b"sdnlab-replay-sync:"  # the echo request's data: this, then a token
SYNC_DONE = b"sdnlab-replay-done:"  # the answer's data: this, the token, "/", how many requests
OFPT_ECHO_REQUEST = 2  # the same in every OpenFlow version
MAX_ROUNDS = 200  # an app that keeps sending itself events is answered anyway after this many

_installed: list[Any] = []


class _Syncer:
    """The sync thread: takes echo requests, runs marker rounds, answers them."""

    def __init__(self, marker_cls: type) -> None:
        self.marker_cls = marker_cls
        self.sent = 0  # events queued to apps so far
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._requests: list[tuple[Any, int, bytes]] = []
        self._wake = threading.Event()
        self._left = 0
        self._round_done = threading.Event()
        self._registered: set[int] = set()
        self.datapaths: weakref.WeakSet[Any] = weakref.WeakSet()  # every switch connection seen
        threading.Thread(target=self._run, name="replay-sync", daemon=True).start()

    def count_event(self) -> None:
        with self._count_lock:
            self.sent += 1

    def request(self, datapath: Any, xid: int, token: bytes) -> None:
        with self._lock:
            self._requests.append((datapath, xid, token))
        self._wake.set()

    def _marker_taken(self, _ev: Any) -> None:
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            self._round_done.set()

    def _round(self, apps: list[Any]) -> bool:
        """Queue a marker to every app and wait until all took it; True if nothing else was queued."""
        before = self.sent
        with self._lock:
            self._left = len(apps)
        self._round_done.clear()
        for app in apps:
            if id(app) not in self._registered:
                app.register_handler(self.marker_cls, self._marker_taken)
                self._registered.add(id(app))
            app._send_event(self.marker_cls(), None)
        self._round_done.wait()
        return self.sent == before + len(apps)

    def _run(self) -> None:
        from os_ken.base import app_manager

        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                requests, self._requests = self._requests, []
            if not requests:
                continue
            apps = [app for app in app_manager.SERVICE_BRICKS.values() if app.is_active]
            for _ in range(MAX_ROUNDS):
                if self._round(apps):
                    break
            answered: dict[bytes, int] = {}
            for _, _, token in requests:
                answered[token] = answered.get(token, 0) + 1
            for datapath in list(self.datapaths):
                for token, count in answered.items():
                    _answer(datapath, token + b"/" + str(count).encode())


def _answer(datapath: Any, data: bytes) -> None:
    if not getattr(datapath, "is_active", True) or getattr(datapath, "ofproto_parser", None) is None:
        return
    try:
        datapath.send_msg(datapath.ofproto_parser.OFPEchoReply(datapath, data=SYNC_DONE + data))
    except Exception:  # the switch left meanwhile: nobody waits for this answer
        pass


def install(environ: dict[str, str] | None = None) -> bool:
    """Hook the runner when ``SDNLAB_REPLAY_SYNC`` is set (idempotent); True if hooked."""
    env = os.environ if environ is None else environ
    if not env.get(ENV):
        return False
    if _installed:
        return True
    from os_ken.base import app_manager
    from os_ken.controller import controller, event

    class SyncMarker(event.EventBase):
        """Queued to every app by a sync; taking it means the app handled everything before it."""

    syncer = _Syncer(SyncMarker)
    _installed.append(syncer)
    original_send_event = app_manager.OSKenApp._send_event

    def counting_send_event(self: Any, ev: Any, state: Any) -> None:
        syncer.count_event()
        original_send_event(self, ev, state)

    app_manager.OSKenApp._send_event = counting_send_event
    parser = controller.ofproto_parser  # hardening's strict namespace (or os-ken's module)
    parse_msg = parser.msg

    def syncing_msg(datapath: Any, version: int, msg_type: int, msg_len: int, xid: int, buf: Any) -> Any:
        syncer.datapaths.add(datapath)
        data = bytes(buf[8:msg_len])
        if msg_type == OFPT_ECHO_REQUEST and data.startswith(SYNC_DATA):
            syncer.request(datapath, xid, data[len(SYNC_DATA) :])
            return None  # not an event: os-ken's echo handler must not answer it early
        return parse_msg(datapath, version, msg_type, msg_len, xid, buf)

    if isinstance(parser, type(os)):  # the plain os-ken parser module: do not patch it globally
        import types

        controller.ofproto_parser = types.SimpleNamespace(header=parser.header, msg=syncing_msg)
    else:
        parser.msg = syncing_msg
    return True
