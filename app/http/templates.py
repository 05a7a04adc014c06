"""The one Jinja2 environment for pages, and the context every page gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))


def page(
    request: Request, name: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    """Render a full page; personal pages are never cached (the middleware adds no-store)."""
    auth = getattr(request.state, "auth", None)
    base = {
        "user": auth.display_name if auth else None,
        "role": auth.actor.role if auth else None,
        "csrf_token": auth.csrf_token if auth else None,
    }
    return TEMPLATES.TemplateResponse(request, name, {**base, **context}, status_code=status)
