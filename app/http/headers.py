"""Request ids and security headers on every HTTP response.

Plain ASGI rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs the app
in a separate task with a memory stream between them, which profiled at a fifth of the event
loop's time per counter request. Here the response start message is amended in passing.

An unexpected exception is answered here too (a bare 500 problem) and goes no further: left to
Starlette's ServerErrorMiddleware it is raised again after the response, and the server then
closes the keep-alive connection, so one bad request would also fail whatever the client had
queued behind it on that connection.
"""

from __future__ import annotations

import re
from uuid import uuid4

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.problems import SECURITY_HEADERS, internal_error
from app.logs import REQUEST_ID

SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
CACHEABLE = frozenset({"/docs", "/openapi.json", "/redoc"})


class ResponseHeaders:
    """A request id for the logs and the caller (X-Request-ID from nginx is kept if sane), the
    security headers, and `no-store` on everything but the API documentation."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get("x-request-id", "")
        request_id = incoming if SANE_REQUEST_ID.fullmatch(incoming) else uuid4().hex
        cacheable = scope["path"] in CACHEABLE
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not cacheable:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if started:  # part of a response went out: all that is left is to drop it
                raise
            response = internal_error(scope)
            await response(scope, receive, send_with_headers)
        finally:
            REQUEST_ID.reset(token)
