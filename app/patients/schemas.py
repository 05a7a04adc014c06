"""Request and response bodies of the patients API (a patient, a change, its history)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import Field

from app.http.schemas import In, IsoDate, Name, Out, Reason


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
    expected_delivery_on: IsoDate | None = None


class PatientChangeBody(In):
    """Only the fields given change; `null` clears a link (household, key worker, prescriber)."""

    given_name: Name | None = None
    family_name: Name | None = None
    household_id: UUID | None = None
    key_worker_id: UUID | None = None
    prescriber_id: UUID | None = None
    pregnant: bool | None = None
    expected_delivery_on: IsoDate | None = None
    reason: Reason = Field(description="Why it changed (kept in the history)")


class PatientChangeRead(Out):
    id: UUID
    patient_id: UUID
    field: str
    old_value: str | None
    new_value: str | None
    reason: str
    changed_by_id: UUID | None
    changed_at: datetime


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
    expected_delivery_on: IsoDate | None = None
    card_code: str


class CardReissueBody(In):
    reason: Reason = Field(description="Why a new card is needed (lost, stolen, damaged)")
