"""The classroom web application: the JSON API under ``/api/``, the terminal WebSocket, the UI.

``create_app(factory, backend, settings)`` builds a FastAPI app over a migrated database and
a ``SandboxBackend``. The server's state is one ``Classroom`` (``room.py``); the endpoints
live in ``routes/``, one router per area, and reach the state, the database and the caller
through the dependencies in ``deps.py``. Every endpoint states who may call it
(``AnyUser``, ``Instructor``, ``Admin``); state-changing requests also need the login's CSRF
token in ``X-CSRF-Token``. Errors are JSON ``{"error": ...}`` with a 4xx status (``http.py``).
"""

import asyncio
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import sessionmaker

from sdnlab.classroom.http import install_body_limit, install_errors
from sdnlab.classroom.room import Classroom, Settings
from sdnlab.classroom.routes import (
    accounts,
    admin,
    exams,
    instructors,
    labs,
    operations,
    session,
    terminal,
    validations,
)
from sdnlab.classroom.sandbox import SandboxBackend

__all__ = ["STATIC", "Settings", "create_app"]

STATIC = Path(__file__).parent / "static"
ROUTERS = (operations, accounts, labs, session, instructors, validations, admin, exams, terminal)


def create_app(factory: sessionmaker, backend: SandboxBackend, settings: Settings | None = None) -> FastAPI:
    """The FastAPI application over a migrated database and a sandbox backend."""
    room = Classroom(factory, backend, settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await asyncio.to_thread(room.reconcile)
        reaper = threading.Thread(target=room.reaper, name="classroom-reaper", daemon=True)
        reaper.start()
        clock = threading.Thread(target=room.exam_clock, name="classroom-exam-clock", daemon=True)
        clock.start()
        if room.pool.targets:
            threading.Thread(target=room.filler, name="classroom-warm-pool", daemon=True).start()
        yield
        await asyncio.to_thread(room.shutdown)

    app = FastAPI(
        title="sdnlab classroom",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.room = room
    install_errors(app, room)
    install_body_limit(app, room.settings.max_body)
    for module in ROUTERS:
        app.include_router(module.router)

    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

        @app.get("/", include_in_schema=False)
        def index():
            return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    return app
