"""Liveness and readiness: is the database reachable and at the migration head."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.counter.api import device_status
from app.ops.migrations import alembic_config

router = APIRouter(tags=["health"])


def _expected_head() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config: Config = alembic_config()
    return ScriptDirectory.from_config(config).get_current_head()


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """200 when the database answers and is migrated to the head this code expects; else 503."""
    body: dict[str, Any] = {"status": "ok"}
    factory = request.app.state.session_factory
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
            current = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
        expected = _expected_head()
        body["database"] = {
            "reachable": True,
            "revision": current,
            "head": expected,
            "at_head": current == expected,
        }
        if current != expected:
            body["status"] = "degraded"
    except Exception as exc:  # the health endpoint reports, it never raises
        body["status"] = "unavailable"
        body["database"] = {"reachable": False, "error": type(exc).__name__}

    # Devices are reported, not required: a printer fault never makes the service unhealthy,
    # because doses are recorded whatever the printer does.
    body["devices"] = device_status(request)
    code = 200 if body["status"] == "ok" else 503
    return JSONResponse(body, status_code=code, headers={"Cache-Control": "no-store"})


@router.get("/livez")
def livez() -> JSONResponse:
    """Liveness: the process answers (restart it if not). Never touches the database."""
    return JSONResponse({"status": "alive"}, headers={"Cache-Control": "no-store"})


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Readiness: send traffic only when the database answers at the expected migration."""
    return healthz(request)
