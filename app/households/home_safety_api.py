"""Take-home naloxone and safe-storage advice recorded for a household (households tag)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from app.auth.deps import ActorDep
from app.clock import local_date
from app.households import naloxone, storage_advice
from app.households.home_safety import naloxone_in_date
from app.households.home_safety_schemas import (
    AdviceCreate,
    AdviceList,
    AdviceRead,
    NaloxoneCreate,
    NaloxoneInDate,
    NaloxoneList,
    NaloxoneRead,
)
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep

router = APIRouter(tags=["households"], responses=problems.API_ERRORS)


@router.post("/households/{household_id}/naloxone", status_code=201, response_model=NaloxoneRead)
def record_naloxone(
    household_id: UUID,
    body: NaloxoneCreate,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Record take-home naloxone supplied to the patient or a named adult of the household
    (pharmacist or technician). Recorded only: the supply itself is the pharmacist's call."""
    today = local_date(now, settings.timezone)
    return naloxone.record_supply(
        uow,
        actor=actor,
        household_id=household_id,
        supply=naloxone.Supply(
            product=body.product,
            product_name=body.product_name or "",
            batch=body.batch,
            expires_on=body.expires_on,
            trained=body.trained,
            recipient=body.recipient,
            recipient_name=body.recipient_name or "",
            patient_id=body.patient_id,
            supplied_on=body.supplied_on or today,
            note=body.note,
        ),
        today=today,
        now=now,
    )


@router.get("/households/{household_id}/naloxone", response_model=NaloxoneList)
def list_naloxone(
    household_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> NaloxoneList:
    """The naloxone supplied to the household, newest first, each in date or expired today."""
    today = local_date(now, settings.timezone)
    rows = naloxone.list_supplies(uow, actor=actor, household_id=household_id)
    return NaloxoneList(
        household_id=household_id,
        in_date=naloxone_in_date(((r.supplied_on, r.expires_on) for r in rows), today),
        items=[
            NaloxoneInDate(
                **NaloxoneRead.model_validate(r).model_dump(), in_date=r.expires_on >= today
            )
            for r in rows
        ],
    )


@router.post(
    "/households/{household_id}/storage-advice", status_code=201, response_model=AdviceRead
)
def record_storage_advice(
    household_id: UUID,
    body: AdviceCreate,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Record safe-storage advice given about take-home doses: what it covered, to whom
    (pharmacist or technician)."""
    today = local_date(now, settings.timezone)
    return storage_advice.record_advice(
        uow,
        actor=actor,
        household_id=household_id,
        topics=list(body.topics),
        given_to=body.given_to or "",
        patient_id=body.patient_id,
        given_on=body.given_on or today,
        note=body.note,
        today=today,
        now=now,
    )


@router.get("/households/{household_id}/storage-advice", response_model=AdviceList)
def list_storage_advice(household_id: UUID, uow: UowDep, actor: ActorDep) -> AdviceList:
    """The safe-storage advice given in the household, newest first."""
    rows = storage_advice.list_advice(uow, actor=actor, household_id=household_id)
    return AdviceList(household_id=household_id, items=[AdviceRead.model_validate(r) for r in rows])
