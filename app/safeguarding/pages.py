"""The safeguarding lead's pages: the live alert inbox and the household picture."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from app.clock import local_date
from app.households import picture as household_picture
from app.households import service as households_service
from app.http.deps import ActorDep, NowDep, SettingsDep, UowDep
from app.http.templates import page
from app.patients.models import Patient
from app.safeguarding import service as safeguarding_service
from app.safeguarding.models import AlertState

router = APIRouter(include_in_schema=False)
KINDS = [
    "missed_dose",
    "missed_threshold_reached",
    "dose_withheld_intoxicated",
    "intoxicated_with_child_present",
    "take_home_blocked_no_box",
    "box_override",
    "children_not_confirmed_override",
    "take_home_in_protected_household",
    "household_regime_mismatch",
    "household_methadone_high",
    "prescription_ending",
    "closed_day_needs_amended_prescription",
    "delivery_failed",
]


@router.get("/safeguarding", response_class=HTMLResponse)
def inbox(
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    state: Annotated[str | None, Query(pattern="^(open|acknowledged|escalated|resolved)$")] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    severity: Annotated[str | None, Query(pattern="^(info|warning|urgent)$")] = None,
) -> HTMLResponse:
    """The alert inbox: newest first, filterable; new alerts arrive live."""
    rows, _ = safeguarding_service.list_alerts(
        uow,
        actor=actor,
        state=state or None,
        kind=kind or None,
        severity=severity or None,
        limit=200,
    )
    with uow:
        deliveries = safeguarding_service.deliveries_for(uow.session, [a.id for a in rows])
        ids = {a.patient_id for a in rows if a.patient_id}
        names = (
            {
                p.id: f"{p.given_name} {p.family_name}"
                for p in uow.session.scalars(select(Patient).where(Patient.id.in_(ids)))
            }
            if ids
            else {}
        )
    return page(
        request,
        "safeguarding/inbox.html",
        {
            "names": names,
            "alerts": rows,
            "deliveries": deliveries,
            "states": [s.value for s in AlertState],
            "kinds": KINDS,
            "filters": {"state": state, "kind": kind, "severity": severity},
        },
    )


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
        extras = household_picture.household_extras(uow.session, household_id, today)
        series = household_picture.methadone_series(
            uow.session, household_id, today - timedelta(days=29), today
        )
        chronology = household_picture.chronology(
            uow.session, household_id, today - timedelta(days=29), today
        )
    peak = max((mg for _, mg in series), default=0) or 1
    return page(
        request,
        "safeguarding/household.html",
        {
            "view": view,
            "extras": extras,
            "series": series,
            "peak": peak,
            "chronology": chronology,
            "today": today,
            "ages": {
                c.id: households_service.age_on(c.date_of_birth, today) for c in view.children
            },
        },
    )
