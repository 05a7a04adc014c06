from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import StringConstraints

from app.auth.deps import ActorDep
from app.clock import local_date
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import SINGLE_LINE, Paged
from app.kit import UNSET
from app.patients import search as patient_search
from app.patients import service as patients_service
from app.patients.schemas import (
    CardReissueBody,
    PatientChangeBody,
    PatientChangeRead,
    PatientCreate,
    PatientRead,
)

router = APIRouter(tags=["patients"], responses=problems.API_ERRORS)


@router.post("/patients", status_code=201, response_model=PatientRead)
def register_patient(
    body: PatientCreate, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> object:
    """Register a patient; the NHS number must pass the Modulus 11 check."""
    return patients_service.register_patient(
        uow,
        actor=actor,
        given_name=body.given_name,
        family_name=body.family_name,
        date_of_birth=body.date_of_birth,
        nhs_number=body.nhs_number,
        pharmacy_id=body.pharmacy_id,
        household_id=body.household_id,
        key_worker_id=body.key_worker_id,
        prescriber_id=body.prescriber_id,
        pregnant=body.pregnant,
        expected_delivery_on=body.expected_delivery_on,
        today=local_date(now, settings.timezone),
        now=now,
    )


@router.patch("/patients/{patient_id}", response_model=PatientRead)
def update_patient(
    patient_id: UUID,
    body: PatientChangeBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Change a patient's details (names, household, key worker, prescriber, pregnancy). Every
    change is kept in the patient's history with who, when and why; the household rules run
    again."""
    given = body.model_fields_set
    return patients_service.update_patient(
        uow,
        actor=actor,
        patient_id=patient_id,
        update=patients_service.PatientUpdate(
            given_name=body.given_name,
            family_name=body.family_name,
            household_id=body.household_id if "household_id" in given else UNSET,
            key_worker_id=body.key_worker_id if "key_worker_id" in given else UNSET,
            prescriber_id=body.prescriber_id if "prescriber_id" in given else UNSET,
            pregnant=body.pregnant,
            expected_delivery_on=body.expected_delivery_on
            if "expected_delivery_on" in given
            else UNSET,
        ),
        reason=body.reason,
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
    )


@router.post("/patients/{patient_id}/card/reissue", response_model=PatientRead)
def reissue_card(
    patient_id: UUID, body: CardReissueBody, uow: UowDep, actor: ActorDep, now: NowDep
) -> object:
    """Issue a new patient card: a new random card code, and the old card no longer selects
    the patient at the counter (a lost or stolen card). Kept in the patient's history."""
    return patients_service.reissue_card(
        uow, actor=actor, patient_id=patient_id, reason=body.reason, now=now
    )


@router.get("/patients/{patient_id}/history", response_model=Paged[PatientChangeRead])
def patient_history(patient_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep) -> object:
    """Every change to the patient's details, newest first (the read is logged)."""
    return {
        "items": patients_service.history(uow, actor=actor, patient_id=patient_id, now=now),
        "next": None,
    }


@router.get("/patients", response_model=Paged[PatientRead])
def search_patients(
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    q: Annotated[
        Annotated[str, StringConstraints(min_length=2, max_length=100), SINGLE_LINE] | None,
        Query(
            description='Name (or "Family, Given"), date of birth (dd/mm/yyyy or YYYY-MM-DD) '
            "or NHS number (spaces ignored)"
        ),
    ] = None,
    household_id: UUID | None = None,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,7}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> object:
    offset = int(cursor or 0)
    limit = min(limit, settings.max_page_size)
    rows, more = patient_search.search_patients(
        uow, actor=actor, q=q, household_id=household_id, offset=offset, limit=limit, now=now
    )
    return {"items": rows, "next": str(offset + limit) if more else None}


@router.get("/patients/{patient_id}", response_model=PatientRead)
def get_patient(patient_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep) -> object:
    return patients_service.get_patient(uow, actor=actor, patient_id=patient_id, now=now)
