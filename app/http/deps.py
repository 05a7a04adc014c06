"""FastAPI dependencies shared by every capability: unit of work, clock, settings, the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.audit.service import Actor
from app.auth import service as auth_service
from app.clock import Clock
from app.config import Settings
from app.db import UnitOfWork
from app.errors import NotAuthenticated
from app.http import csrf

SESSION_COOKIE = "__Host-session"
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


# The dependencies below do no I/O, so they are `async def`: FastAPI runs a plain `def`
# dependency in the thread pool, and four hops there and back cost more per request than
# the work itself (docs/performance.md). The `*_for` helpers serve synchronous callers.


def uow_for(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.session_factory)


def clock_for(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def settings_for(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_uow(request: Request) -> UnitOfWork:
    return uow_for(request)


async def get_clock(request: Request) -> Clock:
    return clock_for(request)


async def get_settings(request: Request) -> Settings:
    return settings_for(request)


async def get_now(request: Request) -> datetime:
    return clock_for(request).now()


def get_actor(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Actor:
    """The signed-in caller, from a bearer token or (for pages) the session cookie."""
    return authenticate_request(request, token)


def authenticate_request(
    request: Request, token: str | None, *, enforce_csrf: bool = True, touch: bool = True
) -> Actor:
    """Resolve the caller; cookie-authenticated writes must carry the session's CSRF token."""
    now = clock_for(request).now()
    if token:
        # A bearer token's lookup writes nothing: on SQLite it need not queue for the write
        # lock that the request's own unit of work will take.
        reader = UnitOfWork(request.app.state.session_factory, read_only=True)
        auth = auth_service.authenticate(reader, token=token, now=now, kind="api")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise NotAuthenticated("Sign in required")
        settings = settings_for(request)
        auth = auth_service.authenticate(
            uow_for(request),
            token=cookie,
            now=now,
            kind="web",
            idle_seconds=settings.web_idle_seconds,
            touch=touch,
        )
        if enforce_csrf and request.method not in csrf.SAFE_METHODS:
            csrf.check_token(request, auth.csrf_token, request.headers.get("x-csrf-token"))
    request.state.actor = auth.actor
    request.state.auth = auth
    return auth.actor


def still_signed_in(request: Request) -> bool:
    """Whether the credentials this request came with are still good (not expired, revoked or
    idle, the account not disabled). For long-lived responses, which re-check as they go."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        authenticate_request(
            request,
            token.strip() if scheme.lower() == "bearer" and token.strip() else None,
            enforce_csrf=False,
            touch=False,
        )
    except NotAuthenticated:
        return False
    return True


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
ClockDep = Annotated[Clock, Depends(get_clock)]
NowDep = Annotated[datetime, Depends(get_now)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ActorDep = Annotated[Actor, Depends(get_actor)]
