"""The household page: members, children, methadone at home over 30 days, boxes and the
chronology. It reads households, the dosing ledger and the alerts, so it is composed here,
above all three (docs/architecture.md)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app import kit
from app.auth import service as auth_service
from app.auth.deps import ActorDep
from app.clock import local_date
from app.households import service as households_service
from app.households.boxes import BOX_RECORDERS
from app.households.home_safety import ADVICE_TOPICS, NALOXONE_PRODUCTS
from app.households.naloxone import HOME_SAFETY_RECORDERS
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.templates import page
from app.records import pages as patients_pages
from app.records import views
from app.reports import household as report_household

router = APIRouter(include_in_schema=False)


@router.get("/households/{household_id}", response_class=HTMLResponse)
def household(
    household_id: UUID,
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """One household: members, children, methadone at home over 30 days, boxes, chronology."""
    today = local_date(now, settings.timezone)
    view = households_service.view_household(
        uow, actor=actor, household_id=household_id, today=today, now=now
    )
    with uow:
        extras = report_household.household_extras(uow.session, household_id, today)
        series = report_household.methadone_series(
            uow.session, household_id, today - timedelta(days=29), today
        )
        chronology = report_household.chronology(
            uow.session, household_id, today - timedelta(days=29), today
        )
        # The forms a role may submit (the API checks again), and what they may name.
        may_link = actor.role in patients_pages.EDITORS
        confirmers = auth_service.display_names(
            uow.session, {c.confirmed_by_id for c in view.confirmations}
        ) | auth_service.display_names(uow.session, {h.changed_by_id for h in view.history})
        confirmers |= auth_service.display_names(
            uow.session,
            {n["supplied_by_id"] for n in extras["naloxone"]}
            | {a["given_by_id"] for a in extras["storage_advice"]},
        )
        labels = views.history_labels(
            uow.session,
            actor,
            {h.old_value for h in view.history} | {h.new_value for h in view.history},
        )
    peak = max((mg for _, mg in series), default=0) or 1
    return page(
        request,
        "safeguarding/household.html",
        {
            "may_edit": actor.role in patients_pages.HOUSEHOLD_EDITORS,
            "may_link": may_link,
            "may_record_box": actor.role in BOX_RECORDERS,
            "may_open_patients": actor.role in patients_pages.READERS,
            "who": confirmers,
            "labels": labels,
            "statuses": views.protection_statuses(),
            "box_methods": views.box_methods(),
            "view": view,
            "extras": extras,
            "series": series,
            "peak": peak,
            "chronology": chronology,
            "today": today,
            "ages": {c.id: kit.age_on(c.date_of_birth, today) for c in view.children},
            "names": {m.id: f"{m.given_name} {m.family_name}" for m in view.members},
            "home_safety": {
                "may_record": actor.role in HOME_SAFETY_RECORDERS,
                "topics": ADVICE_TOPICS,
                "products": NALOXONE_PRODUCTS,
                "today": today,
            },
        },
    )
