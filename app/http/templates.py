"""The one Jinja2 environment for pages, and the context every page gets."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
LONDON = ZoneInfo("Europe/London")  # the pharmacies' clock: instants are stored in UTC


def when(instant: datetime | None, style: str = "long") -> str:
    """An instant as a pharmacist reads it, in UK time: "Fri 4 Dec 2026, 09:30" (or, `short`,
    "4 Dec 09:30"). Pages never show UTC: a counter in summer would be an hour out."""
    if instant is None:
        return "-"
    local = instant.astimezone(LONDON)
    if style == "short":
        return f"{local.day} {local:%b %H:%M}"
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"


TEMPLATES.env.filters["when"] = when


def uk_date(day: date | None) -> str:
    """A date as people in the UK write it: 09/06/1984."""
    return day.strftime("%d/%m/%Y") if day else "-"


def uk_time(moment: datetime | None, timezone: str = "Europe/London") -> str:
    """An instant at the pharmacy's clock: 04/12/2026 09:15."""
    if moment is None:
        return "-"
    return moment.astimezone(ZoneInfo(timezone)).strftime("%d/%m/%Y %H:%M")


TEMPLATES.env.filters["uk_date"] = uk_date
TEMPLATES.env.filters["uk_time"] = uk_time


def uk_date_or_blank(value: date | None) -> str:
    """As `uk_date`, but blank when there is none (a form field's value)."""
    return uk_date(value) if value is not None else ""


def uk_day(value: date) -> str:
    """A dose day with its weekday: Fri 04/12/2026."""
    return value.strftime("%a %d/%m/%Y")


TEMPLATES.env.filters["ukdate"] = uk_date_or_blank
TEMPLATES.env.filters["ukday"] = uk_day

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def history_value(value: str | None, labels: dict[str, str] | None = None) -> str:
    """A value kept in a change history, as people read it: a date as 01/03/2022, yes/no for a
    flag, a linked record (household, key worker, prescriber) by its name when the page knows
    it. The history stores machine text so it never changes; only its display is for people."""
    if value is None or value == "":
        return "-"
    if labels and value in labels:
        return labels[value]
    if _ISO_DAY.fullmatch(value):
        try:
            return uk_date(date.fromisoformat(value))
        except ValueError:
            return value
    return {"True": "yes", "False": "no"}.get(value, value)


TEMPLATES.env.filters["history_value"] = history_value


def page(
    request: Request, name: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    """Render a full page; personal pages are never cached (the middleware adds no-store)."""
    auth = getattr(request.state, "auth", None)
    base = {
        "user": auth.display_name if auth else None,
        "role": auth.actor.role if auth else None,
        "csrf_token": auth.csrf_token if auth else None,
        "timezone": request.app.state.settings.timezone,
    }
    return TEMPLATES.TemplateResponse(request, name, {**base, **context}, status_code=status)
