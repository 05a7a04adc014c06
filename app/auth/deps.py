"""The signed-in caller as a FastAPI dependency: a bearer token or the session cookie,
resolved by auth's own service, with the CSRF check for cookie-authenticated writes."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from app.actor import Actor
from app.auth import service as auth_service
from app.auth.roles import Role
from app.auth.token_cache import PendingCheck, TokenCache
from app.db import UnitOfWork
from app.errors import NotAuthenticated, PermissionDenied
from app.http import csrf, problems
from app.http.deps import add_uow_check, clock_for, settings_for, uow_for
from app.http.gates import add_gate

SESSION_COOKIE = "__Host-session"
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_actor(request: Request, token: Annotated[str | None, Depends(oauth2)]) -> Actor:
    """The signed-in caller, from a bearer token or (for pages) the session cookie.

    A clinician account (a hospital, custody or out-of-hours clinician) may use the last-dose
    look-up and nothing else: it is refused here, before any route reads a body or an id, so a
    route added later refuses it too. The look-up's own routes resolve the caller themselves
    (`app.lookup.api`).

    A bearer token found in the token cache is answered without touching the database or the
    thread pool, and confirmed in the request's own transaction (`app/auth/token_cache.py`)."""
    cache: TokenCache | None = getattr(request.app.state, "token_cache", None)
    key = auth_service.token_hash(token) if token and cache is not None else None
    actor = _from_cache(request, cache, key) if cache is not None and key else None
    if actor is None:
        actor = await run_in_threadpool(authenticate_request, request, token)
        if cache is not None and key:
            cache.put(key, request.state.auth)
    if actor.role == Role.CLINICIAN:
        raise PermissionDenied("A clinician account may use only the last-dose look-up")
    return actor


def _from_cache(request: Request, cache: TokenCache, key: str) -> Actor | None:
    now = clock_for(request).now()
    auth = cache.get(key, now)
    if auth is None:
        return None
    check = PendingCheck(cache, key, auth, now)
    add_uow_check(request, check)
    add_gate(request, functools.partial(_confirm_before_answering, request, check))
    request.state.actor = auth.actor
    request.state.auth = auth
    return auth.actor


async def _confirm_before_answering(request: Request, check: PendingCheck) -> Response | None:
    """For a request that answered without opening a unit of work: confirm the cached token in
    a transaction of its own before the answer goes out, or answer 401 instead."""
    if check.done:
        return None
    try:
        await run_in_threadpool(_confirm, request, check)
    except NotAuthenticated as exc:
        return await problems.domain_error(request, exc)
    return None


def _confirm(request: Request, check: PendingCheck) -> None:
    with UnitOfWork(request.app.state.session_factory, read_only=True, on_begin=check):
        pass


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


ActorDep = Annotated[Actor, Depends(get_actor)]
