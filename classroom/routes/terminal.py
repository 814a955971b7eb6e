"""The terminal WebSocket: a shell in the caller's own sandbox, relayed as binary frames.

The login cookie identifies the caller (a WebSocket carries no CSRF header, so cross-origin
upgrades are refused instead); the shell is the sandbox's restricted terminal. Input arrives
as JSON ``{"type": "input", "data": ...}`` or ``{"type": "resize", "cols": ..., "rows": ...}``.
The command lines typed are rebuilt from the input (``history.py``) and stored per session
(``terminal_lines``, capped): exam evidence bundles carry them.
"""

import asyncio
import fcntl
import json
import os
import struct
import termios
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import func, select

from sdnlab.classroom import security
from sdnlab.classroom.db import LabSession, Login, TerminalLine, User
from sdnlab.classroom.deps import COOKIE
from sdnlab.classroom.history import LineRecorder
from sdnlab.classroom.room import Classroom
from sdnlab.errors import SdnlabError

router = APIRouter(prefix="/api")


@router.websocket("/session/terminal")
async def terminal(ws: WebSocket):
    """A shell in the caller's sandbox: binary output frames; input as JSON {type: input|resize}."""
    await _terminal(ws, ws.app.state.room)


async def _terminal(ws: WebSocket, room: Classroom) -> None:

    origin = ws.headers.get("origin")
    host = ws.headers.get("host", "")
    if origin and origin.split("://", 1)[-1] != host:
        await ws.close(code=4403, reason="cross-origin terminal refused")
        return
    token = ws.cookies.get(COOKIE)
    with room.factory() as db:
        login = db.get(Login, security.token_hash(token)) if token else None
        user = db.get(User, login.user_id) if login and login.expires_at >= time.time() else None
        row = (
            db.scalar(select(LabSession).where(LabSession.user_id == user.id, LabSession.state == "running"))
            if user
            else None
        )
    if user is None:
        await ws.close(code=4401, reason="not logged in")
        return
    if row is None:
        await ws.close(code=4409, reason="no lab running")
        return
    try:
        fd = await asyncio.to_thread(room.backend.terminal, row.sandbox)
    except SdnlabError as exc:
        await ws.close(code=4500, reason=str(exc)[:120])
        return
    await ws.accept()
    loop = asyncio.get_running_loop()
    output: asyncio.Queue[bytes] = asyncio.Queue()
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        output.put_nowait(data)
        if not data:
            loop.remove_reader(fd)

    loop.add_reader(fd, readable)
    room.metrics.terminals.inc()
    last_touch = 0.0
    recorder = LineRecorder()
    recorder.kept = await asyncio.to_thread(_lines_kept, room, row.id)

    async def pump_out() -> None:
        while True:
            data = await output.get()
            if not data:
                await ws.close()
                return
            await ws.send_bytes(data)

    sender = asyncio.create_task(pump_out())
    try:
        while True:
            message = await ws.receive_text()
            try:
                event = json.loads(message)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            if event.get("type") == "input" and isinstance(event.get("data"), str):
                os.write(fd, event["data"].encode()[:65536])
                lines = recorder.feed(event["data"][:65536])
                if lines:
                    await asyncio.to_thread(_record_lines, room, row.id, user.id, lines)
            elif event.get("type") == "resize":
                cols, rows = event.get("cols"), event.get("rows")
                if isinstance(cols, int) and isinstance(rows, int) and 0 < cols < 1000 and 0 < rows < 1000:
                    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            if time.time() - last_touch > 30:
                last_touch = time.time()
                await asyncio.to_thread(_touch_session, room, row.id, last_touch)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        sender.cancel()
        try:
            loop.remove_reader(fd)
        except (ValueError, OSError):
            pass
        os.close(fd)
        room.metrics.terminals.dec()


def _lines_kept(room: Classroom, session_id: int) -> int:
    with room.factory() as db:
        count = db.scalar(
            select(func.count()).select_from(TerminalLine).where(TerminalLine.session_id == session_id)
        )
    return int(count or 0)


def _record_lines(room: Classroom, session_id: int, user_id: int, lines: list[str]) -> None:
    now = time.time()
    with room.factory.begin() as db:
        db.add_all(TerminalLine(session_id=session_id, user_id=user_id, at=now, line=line) for line in lines)


def _touch_session(room: Classroom, session_id: int, now: float) -> None:
    with room.factory.begin() as db:
        row = db.get(LabSession, session_id)
        if row is not None:
            row.last_active_at = now
