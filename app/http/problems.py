"""Every error leaves as an RFC 9457 problem document (or an HTML fragment for pages).

Validation errors name each field and the rule it broke; unexpected errors are logged with
their stack trace and answered with a bare 500 that reveals nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from app.audit import service as audit_service
from app.db import UnitOfWork
from app.errors import DomainError, TooManyAttempts
from app.http.templates import page

PROBLEM_JSON = "application/problem+json"
# Sent on every response (also on a 500, which is rendered outside the app's middleware).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
log = logging.getLogger("dosekeeper.http")


class Problem(BaseModel):
    """The documented shape of every error body (RFC 9457 plus a stable `code`)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str
    instance: str
    detail: str | None = None
    errors: list[dict[str, Any]] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for errors sent as application/problem+json."""
    schema = Problem.model_json_schema()
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for status in statuses
    }


# What the shared handlers below may answer on any API route: a domain refusal (400), no or bad
# credentials (401), the role may not (403), unknown or foreign id (404), state conflict (409),
# invalid input or a refused rule (422).
API_ERRORS = problem_responses(400, 401, 403, 404, 409, 422)


def problem(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    base: str = request.app.state.settings.problem_base_uri
    body: dict[str, Any] = {
        "type": base + code,
        "title": title,
        "status": status,
        "code": code,
        "instance": request.url.path,
        **extensions,
    }
    if detail is not None:
        body["detail"] = detail
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def wants_page(request: Request) -> bool:
    """A browser navigation to a page (not the JSON API, not a script's fetch)."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def _record_refusal(request: Request, exc: DomainError) -> None:
    """Failed authorisation is logged (ASVS 16.3.2): who asked for what, and what they were told.

    A foreign id answers 404 like an unknown one, but the attempt is on the record.
    """

    actor = getattr(request.state, "actor", None)
    if actor is None:
        return
    uow = UnitOfWork(request.app.state.session_factory)
    with uow:
        audit_service.record(
            uow.session,
            actor,
            "access.refused",
            entity="request",
            entity_id=exc.status,
            at=request.app.state.clock.now(),
            pharmacy_id=actor.pharmacy_id,
            facts={"method": request.method, "path": request.url.path[:300], "code": exc.code},
        )
        uow.commit()


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if exc.status in (403, 404):
        try:
            await run_in_threadpool(_record_refusal, request, exc)
        except Exception:  # the refusal still goes out; the log line says the record failed
            log.exception("could not record a refused request")
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyAttempts) else None
    if exc.status == 401:
        if wants_page(request):  # a person at a page: send them to sign in, then back
            target = quote(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
            return RedirectResponse(f"/login?next={target}", status_code=303)
        headers = {"WWW-Authenticate": "Bearer"}
    if wants_page(request):  # a person at a page reads a page, not a JSON document
        return page(
            request,
            "error.html",
            {"title": exc.title, "detail": exc.detail, "status": exc.status},
            status=exc.status,
        )
    return problem(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        headers=headers,
        **exc.extensions,
    )


# What each pydantic rule means, as a sentence a pharmacist can act on (the field is named
# before it); the rule's own wording ("String should have at most 100 characters") is for
# developers, and pages show these.
def human_message(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    message = str(error.get("msg", "is not valid"))
    if kind == "missing":
        return "is required"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        least = ctx.get("min_length")
        return "is required" if least == 1 else f"must be at least {least} characters"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"may have at most {ctx.get('max_length')} item(s)"
    if kind == "string_pattern_mismatch":
        return "is not in the expected form"
    if kind in ("literal_error", "enum"):
        return f"must be one of: {ctx.get('expected', '').replace(chr(39), '')}"
    if kind in ("date_parsing", "date_from_datetime_parsing", "date_type"):
        return "is not a date (write it as YYYY-MM-DD)"
    if kind in ("uuid_parsing", "uuid_type"):
        return "does not name a record"
    if kind in ("bool_parsing", "bool_type"):
        return "must be yes or no"
    if kind in ("decimal_parsing", "int_parsing", "float_parsing", "decimal_type", "int_type"):
        return "must be a number"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if kind == "greater_than":
        return f"must be more than {ctx.get('gt')}"
    if kind == "extra_forbidden":
        return "is not something this form takes"
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    return message


def _label(field: str) -> str:
    """ "collector_details" -> "Collector details"; the whole body -> "The form"."""
    if field == "body":
        return "The form:"
    return field.replace("_", " ").replace(".", " ").capitalize()


def _page(request: Request, title: str, detail: str, status: int) -> Response:

    return page(
        request, "error.html", {"title": title, "detail": detail, "status": status}, status=status
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or "body"


async def invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _field(tuple(e.get("loc", ()))),
            "rule": e.get("type", "invalid"),
            "message": human_message(e),
        }
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    if wants_page(request):
        return _page(
            request,
            "Some of what was sent could not be used",
            " ".join(f"{_label(e['field'])} {e['message']}." for e in errors),
            422,
        )
    return problem(
        request,
        status=422,
        code="invalid_input",
        title="The request breaks a rule",
        detail=detail,
        errors=errors,
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        # Starlette names only the first route matching the path; list every method the API has.
        allowed = allowed_methods(request)
        if allowed:
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    if wants_page(request) and exc.status_code == 404:
        return _page(request, "Not found", "There is no page at this address.", 404)
    return problem(
        request,
        status=exc.status_code,
        code=codes.get(exc.status_code, "http_error"),
        title=str(exc.detail),
        headers=headers,
    )


def allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI schema declares for the path that was asked for."""
    schema = request.app.openapi()
    path = request.url.path
    methods: set[str] = set()
    for template, operations in schema.get("paths", {}).items():
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            methods |= {m.upper() for m in operations if m in HTTP_METHODS}
    return sorted(methods)


HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


async def database_unavailable(request: Request, exc: Exception) -> Response:
    log.error("database unavailable: %s", type(exc).__name__)
    if wants_page(request):
        return _page(
            request,
            "The database is not reachable",
            "Nothing was recorded. Try again in a moment; if it keeps happening, use the paper "
            "procedure and tell the person who runs Dosekeeper.",
            503,
        )
    return problem(
        request,
        status=503,
        code="database_unavailable",
        title="The database is not reachable; nothing was recorded",
        headers={"Retry-After": "5"},
    )


async def database_busy(request: Request, exc: Exception) -> Response:
    """No connection came free within db_pool_timeout_seconds: every one of this process's
    pooled connections was busy. Answered like an unreachable database rather than left
    hanging behind the proxy's timeout. A use case commits in one unit of work, so it did not
    happen (one in steps, close-day then its anchor, is safe to repeat): send it again."""
    log.warning("database busy: no pooled connection came free in time")
    if wants_page(request):
        return _page(
            request,
            "Dosekeeper is busy",
            "Nothing was recorded. Try again in a few seconds; if it keeps happening, tell the "
            "person who runs Dosekeeper.",
            503,
        )
    return problem(
        request,
        status=503,
        code="database_busy",
        title="Every database connection is busy; nothing was recorded",
        headers={"Retry-After": "5"},
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    return internal_error(request.scope)


def internal_error(scope: Scope) -> Response:
    """The answer to an unexpected exception: logged with its trace, a bare problem out.

    Called while the exception is being handled (`log.exception` reads it)."""
    request = Request(scope)
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(
        request,
        status=500,
        code="internal_error",
        title="Something went wrong; nothing was recorded",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(OperationalError, database_unavailable)
    app.add_exception_handler(PoolTimeout, database_busy)
    app.add_exception_handler(Exception, unexpected_error)
