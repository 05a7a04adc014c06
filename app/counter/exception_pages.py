"""The dose-exception pages (issue 20 §1): a patient's exceptions with the form to record one
and, for a pharmacist, the form to supply an authorised replacement; and the pharmacy's patient
returns record. The page's script posts to the JSON API (`app.dosing.exceptions_api`) and shows
each refusal as a sentence by its field, so a page refuses exactly what the API refuses."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.auth.deps import ActorDep
from app.auth.policy import SAFETY_ACTS, require_role
from app.auth.roles import Role
from app.clock import local_date
from app.dosing import exception_returns, exceptions
from app.dosing.counter import COUNTER
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.templates import page
from app.patients import service as patients_service
from app.safeguarding.exception_alerts import EXCEPTION_WORDS

router = APIRouter(include_in_schema=False)

HOW_WORDS = {
    "phone": "by phone",
    "written": "in writing",
    "in_person": "in person",
    "email": "by email",
}

# The counter's take-home warnings a replacement acknowledges (`replacement_checks.ACKNOWLEDGE`).
ACK_WORDS = {
    "young_child_take_home": "A child under 5 lives in the household: every dose locked away",
    "household_methadone_high": "The methadone at home across the household is high",
}


@router.get("/patients/{patient_id}/dose-exceptions", response_class=HTMLResponse)
def exceptions_page(
    patient_id: UUID,
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> HTMLResponse:
    require_role(actor, COUNTER, "record dose exceptions")
    patient = patients_service.get_patient(uow, actor=actor, patient_id=patient_id, now=now)
    lines = exceptions.for_patient(uow, actor=actor, patient_id=patient_id)
    return page(
        request,
        "counter/dose_exceptions.html",
        {
            "patient": patient,
            "lines": lines,
            "today": local_date(now, settings.timezone),
            "kind_words": EXCEPTION_WORDS,
            "how_words": HOW_WORDS,
            "ack_words": ACK_WORDS,
            "may_replace": actor.role in SAFETY_ACTS["supply_replacement"],
        },
    )


@router.get("/counter/returns", response_class=HTMLResponse)
def returns_page(
    request: Request, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> HTMLResponse:
    today = local_date(now, settings.timezone)
    start = today - timedelta(days=90)
    lines = exception_returns.returns(uow, actor=actor, start=start, end=today)
    return page(
        request,
        "counter/returns.html",
        {
            "lines": lines,
            "start": start,
            "today": today,
            "may_destroy": actor.role == Role.PHARMACIST,
        },
    )
