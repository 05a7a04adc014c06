"""The administrator's page: accounts, opening days and closures, contacts, alert routing."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.auth import service as auth_service
from app.auth.deps import ActorDep
from app.auth.roles import Role
from app.clock import local_date
from app.contacts import service as contacts_service
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.templates import page
from app.pharmacies import service as pharmacies_service
from app.safeguarding import routing as alert_routing

router = APIRouter(include_in_schema=False)
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@router.get("/admin", response_class=HTMLResponse)
def admin(
    request: Request, uow: UowDep, actor: ActorDep, settings: SettingsDep, now: NowDep
) -> HTMLResponse:
    users = auth_service.list_users(uow, actor=actor)
    return page(
        request,
        "admin/index.html",
        {
            "users": users,
            "pharmacies": pharmacies_service.list_pharmacies(uow, actor=actor),
            "contacts": contacts_service.list_contacts(uow, actor=actor),
            "redacted_url": contacts_service.redacted_url,
            "routing": alert_routing.effective_table(settings.policy.alert_routing),
            "roles": [r.value for r in Role],
            "days": DAYS,
            "today": local_date(now, settings.timezone),  # past closures cannot be removed
            "contact_kinds": [
                "key_worker",
                "prescriber",
                "social_worker",
                "safeguarding_lead",
                "mash",
                "care_service",
            ],
        },
    )
