"""The guest pharmacy's page: the patients it doses for other pharmacies (guest dosing), with
the days, the home pharmacy to phone and nothing else of their record. Linked from the
counter; the patients themselves are opened at the counter (card or due list)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.auth.deps import ActorDep
from app.clock import local_date
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.templates import page
from app.intake import guests

router = APIRouter(include_in_schema=False)


@router.get("/guest-patients", response_class=HTMLResponse)
def guest_patients(
    request: Request, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> HTMLResponse:
    today = local_date(now, settings.timezone)
    return page(
        request,
        "prescriptions/guest_patients.html",
        {"grants": guests.hosted(uow, actor=actor, today=today), "today": today},
    )
