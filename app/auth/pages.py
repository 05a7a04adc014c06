"""Sign in and out of the web pages: a server-side session in a `__Host-` cookie.

The cookie holds only a random 256-bit id (Secure, HttpOnly, SameSite=Strict, Path=/); the
session row holds the user, the CSRF token, and the idle and absolute deadlines. Signing out
revokes it on the server.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import StringConstraints

from app.auth import service as auth_service
from app.auth.api import client_address
from app.auth.deps import SESSION_COOKIE, authenticate_request
from app.errors import NotAuthenticated, TooManyAttempts
from app.http import csrf
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import SINGLE_LINE
from app.http.templates import page

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "__Host-login-csrf"
HOME = {
    "pharmacist": "/counter",
    "technician": "/counter",
    "prescriber": "/prescriber",
    "key_worker": "/prescriber",
    "safeguarding_lead": "/safeguarding",
    "admin": "/admin",
    "clinician": "/lookup",
}


def _safe_next(target: str | None) -> str | None:
    """Only our own paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


def _login_page(
    request: Request, *, error: str | None = None, next_path: str = "", status: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = page(
        request,
        "login.html",
        {"error": error, "login_csrf": token, "next": next_path},
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        secure=True,
        httponly=True,
        samesite="strict",
        path="/",
        max_age=3600,
    )
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    try:
        actor = authenticate_request(request, None)  # any role, a clinician's too
    except NotAuthenticated:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME.get(actor.role, "/login"), status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_page(request, next_path=_safe_next(next) or "")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: Annotated[Annotated[str, StringConstraints(max_length=64), SINGLE_LINE], Form()],
    password: Annotated[str, Form(max_length=1024)],
    uow: UowDep,
    now: NowDep,
    settings: SettingsDep,
    next_path: Annotated[
        Annotated[str, StringConstraints(max_length=500), SINGLE_LINE], Form(alias="next")
    ] = "",
    # Missing is refused by the CSRF check (403 csrf_failed), like a wrong token, not as a 422.
    csrf_field: Annotated[str, Form(alias="csrf", max_length=100)] = "",
) -> Response:
    csrf.check_token(request, request.cookies.get(LOGIN_CSRF_COOKIE), csrf_field)
    try:
        issued = auth_service.sign_in(
            uow,
            username=username,
            password=password,
            client=client_address(request),
            kind="web",
            now=now,
            settings=settings.auth,
            replaces=request.cookies.get(SESSION_COOKIE),
        )
    except (NotAuthenticated, TooManyAttempts) as exc:
        status = 429 if isinstance(exc, TooManyAttempts) else 401
        return _login_page(request, error=exc.detail, next_path=next_path, status=status)
    auth = auth_service.authenticate(uow, token=issued.token, now=now, kind="web")
    target = _safe_next(next_path) or HOME.get(auth.actor.role, "/")
    response = RedirectResponse(target, status_code=303)
    # A fresh id on every sign-in (no session fixation); the browser forgets it on expiry.
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        secure=True,
        httponly=True,
        samesite="strict",
        path="/",
        max_age=settings.auth.token_ttl_seconds,
    )
    response.delete_cookie(
        LOGIN_CSRF_COOKIE, path="/", secure=True, httponly=True, samesite="strict"
    )
    return response


@router.post("/logout")
def logout(
    request: Request,
    uow: UowDep,
    now: NowDep,
    csrf_field: Annotated[str, Form(alias="csrf", max_length=100)] = "",
) -> Response:
    try:
        actor = authenticate_request(request, None, enforce_csrf=False)
    except NotAuthenticated:
        return RedirectResponse("/login", status_code=303)
    auth = request.state.auth
    csrf.check_token(request, auth.csrf_token, csrf_field)
    auth_service.sign_out(uow, session_id=auth.session_id, actor=actor, now=now)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response
