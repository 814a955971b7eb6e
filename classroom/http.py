"""HTTP plumbing of the classroom app: errors as JSON ``{"error": ...}`` and a request body limit.

Project errors carry their status; validation errors name the field; an unexpected exception
is logged and answered as a bare 500 without a traceback.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sdnlab.classroom.errors import AccountError, ClassroomError
from sdnlab.classroom.room import LOG, Classroom
from sdnlab.errors import SdnlabError


def install_errors(app: FastAPI, room: Classroom) -> None:
    """Answer every error as JSON with its status (and count it in the metrics)."""

    def answer(status: int, message: str, **extra: Any) -> JSONResponse:
        if status >= 400:
            room.metrics.errors.labels(str(status)).inc()
        return JSONResponse({"error": message, **extra}, status_code=status)

    @app.exception_handler(ClassroomError)
    async def classroom_error(_request: Request, exc: ClassroomError):
        return answer(exc.status, str(exc))

    @app.exception_handler(AccountError)
    async def account_error(_request: Request, exc: AccountError):
        return answer(400, str(exc))

    @app.exception_handler(SdnlabError)
    async def sdnlab_error(_request: Request, exc: SdnlabError):
        return answer(400, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException):
        return answer(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError):
        problems = []
        status = 422
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
            if err.get("type") == "json_invalid":
                status = 400
                problems.append("body: malformed JSON")
            else:
                problems.append(f"{where}: {err.get('msg')}")
        return answer(status, "; ".join(problems) or "invalid request", fields=problems)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception):
        LOG.exception("event=internal_error path=%s", request.url.path)
        return answer(500, "internal error (logged on the server)")


def install_body_limit(app: FastAPI, limit: int) -> None:
    """Refuse request bodies larger than ``limit`` bytes with a JSON 413 (declared or streamed)."""

    class BodyLimit:
        def __init__(self, inner):
            self.inner = inner

        async def __call__(self, scope, receive, send):
            if scope["type"] != "http":
                return await self.inner(scope, receive, send)
            headers = dict(scope.get("headers") or [])
            declared = headers.get(b"content-length")
            too_big = JSONResponse({"error": f"request body larger than {limit} bytes"}, status_code=413)
            if declared is not None:
                try:
                    if int(declared) > limit:
                        return await too_big(scope, receive, send)
                except ValueError:
                    return await JSONResponse({"error": "bad Content-Length"}, status_code=400)(
                        scope, receive, send
                    )
            chunks, size = [], 0
            if scope.get("method") in ("POST", "PUT", "PATCH"):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        break
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        return await too_big(scope, receive, send)
                    chunks.append(chunk)
                    if not message.get("more_body"):
                        break
            body = b"".join(chunks)
            sent = False

            async def replay():
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            return await self.inner(scope, replay, send)

    app.add_middleware(BodyLimit)
