"""Operations: liveness and Prometheus metrics."""

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import select

from sdnlab.classroom.deps import Db, Room

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz(db: Db, room: Room):
    """Liveness: the database answers."""
    db.execute(select(1))
    return {"status": "ok", "backend": room.backend.kind}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics_endpoint(room: Room):
    """Prometheus metrics."""
    body, content_type = room.metrics.render()
    return Response(body, media_type=content_type)
