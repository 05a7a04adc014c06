"""Response gates: last checks a request registered, run just before its response starts.

Why: a check that belongs in the request's transaction (a cached bearer token confirmed
against the auth epoch, app/auth/token_cache.py) runs when the request's first unit of work
begins. A request that opens none (it answers from what it already knows, `/me`) must still be
checked before it answers anything: a gate does that, and a gate that refuses replaces the
response before a byte of it is sent.

A gate is an async callable returning None (go ahead) or the response to send instead. Plain
ASGI, inside `ResponseHeaders`, so a replacement carries the same headers as any response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

RESPONSE_GATES = "response_gates"

Gate = Callable[[], Awaitable[Response | None]]


def add_gate(request: Request, gate: Gate) -> None:
    gates: list[Gate] | None = getattr(request.state, RESPONSE_GATES, None)
    if gates is None:
        gates = []
        setattr(request.state, RESPONSE_GATES, gates)
    gates.append(gate)


class ResponseGates:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def gated(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the refused response's body goes nowhere
            if message["type"] == "http.response.start":
                for gate in scope.get("state", {}).get(RESPONSE_GATES, ()):
                    replacement = await gate()
                    if replacement is not None:
                        replaced = True
                        await replacement(scope, receive, send)
                        return
            await send(message)

        await self.app(scope, receive, gated)
