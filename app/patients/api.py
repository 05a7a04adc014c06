from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import Field

from app.clock import local_date
from app.http import problems
from app.http.deps import ActorDep, NowDep, SettingsDep, UowDep
from app.http.schemas import In, IsoDate, Name, Out, Paged
from app.patients import service as patients_service

router = APIRouter(tags=["patients"], responses=problems.API_ERRORS)


class PatientCreate(In):
    given_name: Name
    family_name: Name
    date_of_birth: IsoDate
    nhs_number: Annotated[str, Field(min_length=10, max_length=14)]
    pharmacy_id: UUID
    household_id: UUID | None = None
    key_worker_id: UUID | None = None
    prescriber_id: UUID | None = None
    pregnant: bool = False


class PatientRead(Out):
    id: UUID
    given_name: str
    family_name: str
    date_of_birth: IsoDate
    nhs_number: str
    pharmacy_id: UUID
    household_id: UUID | None
    key_worker_id: UUID | None
    prescriber_id: UUID | None
    pregnant: bool
    card_code: str


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
        today=local_date(now, settings.timezone),
        now=now,
    )


@router.get("/patients", response_model=Paged[PatientRead])
def search_patients(
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    q: Annotated[
        str | None,
        Query(max_length=100, description="Name, date of birth (YYYY-MM-DD) or NHS number"),
    ] = None,
    household_id: UUID | None = None,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,7}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> object:
    offset = int(cursor or 0)
    limit = min(limit, settings.max_page_size)
    rows, more = patients_service.search_patients(
        uow, actor=actor, q=q, household_id=household_id, offset=offset, limit=limit, now=now
    )
    return {"items": rows, "next": str(offset + limit) if more else None}


@router.get("/patients/{patient_id}", response_model=PatientRead)
def get_patient(patient_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep) -> object:
    return patients_service.get_patient(uow, actor=actor, patient_id=patient_id, now=now)
