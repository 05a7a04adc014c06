"""Guest dosing's HTTP routes: the home pharmacy grants another pharmacy the days of a stay,
either ends it early, and the guest lists whom it doses (`app.intake.guests`)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from fastapi import APIRouter

from app.auth.deps import ActorDep
from app.clock import local_date
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.intake import guests
from app.intake.guest_schemas import (
    GuestGrantBody,
    GuestGrantEndBody,
    GuestGrantList,
    GuestGrantRead,
    GuestPatient,
    PharmacyCard,
)

router = APIRouter(tags=["guest dosing"], responses=problems.API_ERRORS)


def read(view: guests.GrantView, today: date) -> GuestGrantRead:
    grant, ended = view.grant, view.ended
    return GuestGrantRead(
        id=grant.id,
        prescription_id=grant.prescription_id,
        patient=GuestPatient.model_validate(view.patient, from_attributes=True),
        home_pharmacy=PharmacyCard.model_validate(view.home, from_attributes=True),
        guest_pharmacy=PharmacyCard.model_validate(view.guest, from_attributes=True),
        from_date=grant.from_date,
        to_date=grant.to_date,
        note=grant.note,
        days_granted=grant.days_granted,
        granted_at=grant.granted_at,
        ended_on=ended.ended_on if ended else None,
        end_reason=ended.reason if ended else None,
        days_returned=ended.days_returned if ended else None,
        live=view.live_on(today),
    )


@router.post(
    "/prescriptions/{prescription_id}/guest-grants",
    status_code=201,
    response_model=GuestGrantRead,
    responses={409: {"description": "not_active, overlapping_grant, nothing_to_grant"}},
)
def grant_guest_dosing(
    prescription_id: UUID,
    body: GuestGrantBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Let another pharmacy (a Dosekeeper tenant, by ODS code) dose the patient on the
    collection days from `from_date` to `to_date`: those days move to its counter, this
    counter refuses them, and its doses show in this prescription's schedule. A pharmacist of
    the home pharmacy; at most 28 days; ends by itself after the last day."""
    today = local_date(now, settings.timezone)
    view = guests.grant(
        uow,
        actor=actor,
        prescription_id=prescription_id,
        guest_ods_code=body.guest_ods_code,
        from_date=body.from_date,
        to_date=body.to_date,
        note=body.note,
        today=today,
        now=now,
    )
    return read(view, today)


@router.get("/prescriptions/{prescription_id}/guest-grants", response_model=GuestGrantList)
def list_guest_grants(
    prescription_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> object:
    """Every guest grant of the prescription, newest first (the home pharmacy)."""
    today = local_date(now, settings.timezone)
    views = guests.for_prescription(uow, actor=actor, prescription_id=prescription_id)
    return {"items": [read(v, today) for v in views], "next": None}


@router.get("/guest-grants", response_model=GuestGrantList)
def list_hosted_patients(
    uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> object:
    """The patients your pharmacy doses as a guest: now, later, or in the last week. Their
    identity, the days and the home pharmacy's contact details only."""
    today = local_date(now, settings.timezone)
    return {"items": [read(v, today) for v in guests.hosted(uow, actor=actor, today=today)]}


@router.post(
    "/guest-grants/{grant_id}/end",
    response_model=GuestGrantRead,
    responses={409: {"description": "grant_ended"}},
)
def end_guest_dosing(
    grant_id: UUID,
    body: GuestGrantEndBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """End guest dosing early: from today the days still due go back to the home pharmacy. A
    pharmacist of either pharmacy."""
    today = local_date(now, settings.timezone)
    view = guests.end(uow, actor=actor, grant_id=grant_id, reason=body.reason, today=today, now=now)
    return read(view, today)
