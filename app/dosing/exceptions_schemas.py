"""Request and response bodies of the dose-exception routes (`app.dosing.exceptions_api`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from app.http.schemas import SINGLE_LINE, In, IsoDate, IsoDateTime, Note, Out, Text200

Mg = Annotated[Decimal, Field(gt=0, le=2000, max_digits=8, decimal_places=2)]
Ml = Annotated[Decimal, Field(gt=0, le=20000, max_digits=8, decimal_places=2)]


class DoseExceptionBody(In):
    kind: Literal["vomited", "spilt", "lost", "stolen", "damaged", "returned"] = Field(
        description="vomited (today's supervised dose) | spilt (at the counter, today) | lost | "
        "stolen | damaged (a take-home) | returned (a take-home brought back unused)"
    )
    dose_dates: list[IsoDate] = Field(
        default_factory=list,
        max_length=14,
        description="The ledger day(s) whose dose it concerns; left out with replacement_id",
    )
    replacement_id: UUID | None = Field(
        default=None,
        description="A replacement itself lost, stolen, damaged or returned (a take-home one), "
        "or vomited or spilt (today): named instead of dose_dates, never with them",
    )
    minutes_after: int | None = Field(
        default=None, ge=0, le=1440, description="vomited: minutes after swallowing"
    )
    police_reference: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=80), SINGLE_LINE] | None
    ) = Field(default=None, description="stolen: the police reference, where given")
    volume_ml: Ml | None = Field(default=None, description="returned: the volume brought back")
    note: Note = ""


class DoseReplacementRead(Out):
    id: UUID
    exception_id: UUID
    patient_id: UUID
    product: str
    mode: str
    dose_mg: Decimal
    volume_ml: Decimal | None
    dose_dates: list[str]
    authorised_by: str
    authorised_at: datetime
    authorised_how: str
    note: str
    supplied_on: date
    supplied_at: datetime
    register_entry_id: UUID | None = None
    label_job_id: UUID | None = None


class DoseExceptionRead(Out):
    id: UUID
    patient_id: UUID
    prescription_id: UUID
    product: str
    kind: str
    replacement_id: UUID | None = None
    dose_dates: list[str]
    dose_mg: Decimal
    volume_ml: Decimal | None
    minutes_after: int | None
    police_reference: str | None
    note: str
    occurred_on: date
    recorded_at: datetime
    alerts: list[str] = Field(default_factory=list)
    replacement: DoseReplacementRead | None = None


class DoseExceptionList(BaseModel):
    items: list[DoseExceptionRead]


class ReplacementBody(In):
    authorised_by: Text200 | None = Field(
        default=None, description="The prescriber who authorised it (required)"
    )
    authorised_at: IsoDateTime | None = Field(
        default=None, description="When they authorised it (required)"
    )
    authorised_how: Literal["phone", "written", "in_person", "email"] | None = Field(
        default=None, description="How (required)"
    )
    dose_mg: Mg | None = Field(
        default=None, description="At most the exception's dose; the whole dose if left out"
    )
    mode: Literal["supervised", "take_home"] | None = Field(
        default=None,
        description="supervised (swallowed at the counter, at most one day's dose; default for "
        "vomited or spilt) or take_home (default for lost, stolen or damaged; labelled as a "
        "replacement; the counter's household checks apply)",
    )
    not_intoxicated: bool | None = Field(
        default=None,
        description="The pharmacist's attestation that the patient is not intoxicated: required "
        "for a supervised replacement; false refuses (patient_intoxicated)",
    )
    acknowledged: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)] = (
        Field(
            default_factory=list,
            description="The counter's take-home warnings acknowledged: young_child_take_home, "
            "household_methadone_high",
        )
    )
    note: Note = ""


class DestructionBody(In):
    method: Text200 = Field(description="How it was destroyed, e.g. 'denaturing kit'")
    witness: Text200 = Field(description="Who witnessed the destruction")


class ReturnRead(BaseModel):
    exception_id: UUID
    patient_id: UUID
    patient_name: str
    dose_dates: list[str]
    volume_ml: Decimal | None
    dose_mg: Decimal
    product: str
    returned_on: date
    recorded_at: datetime
    note: str
    destroyed_on: date | None = None
    destroyed_method: str | None = None
    destroyed_witness: str | None = None


class ReturnList(BaseModel):
    items: list[ReturnRead]
