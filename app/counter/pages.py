"""The counter terminal page: a shell the page's script fills from the JSON API, so every
refusal, warning and override behaves exactly as the API does."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.auth.models import Role
from app.auth.policy import require_role
from app.clock import local_date
from app.http.deps import ActorDep, NowDep, SettingsDep
from app.http.templates import page

router = APIRouter(include_in_schema=False)


@router.get("/counter", response_class=HTMLResponse)
def counter(request: Request, actor: ActorDep, now: NowDep, settings: SettingsDep) -> HTMLResponse:
    require_role(actor, {Role.PHARMACIST, Role.TECHNICIAN, Role.ADMIN}, "use the counter")
    return page(
        request,
        "counter/index.html",
        {
            "today": local_date(now, settings.timezone).isoformat(),
            "pharmacy_id": str(actor.pharmacy_id or ""),
            "is_pharmacist": actor.role == Role.PHARMACIST,
        },
    )
