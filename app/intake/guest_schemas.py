"""Guest dosing's request and response bodies (`app.intake.guest_api`'s routes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from app.http.schemas import Controls, In, IsoDate, Reason


class GuestGrantBody(In):
    """Let another pharmacy dose the patient on the collection days of a period."""

    guest_ods_code: Annotated[
        str,
        StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z0-9]{3,10}$"),
    ] = Field(description="The guest pharmacy's ODS code (it must use Dosekeeper)")
    from_date: IsoDate = Field(description="The first day dosed there (today or later)")
    to_date: IsoDate = Field(description="The last day dosed there (at most 28 days in all)")
    note: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=3, max_length=2000),
        Controls("\t\n\r", min_visible=3),
    ] = Field(description="Why and where, e.g. a week with family in Leeds")


class GuestGrantEndBody(In):
    reason: Reason = Field(description="Why the guest dosing ends early")


class PharmacyCard(BaseModel):
    """A pharmacy's public identity: what the other pharmacy needs to phone it."""

    id: UUID
    name: str
    ods_code: str
    address: str
    phone: str


class GuestPatient(BaseModel):
    """The patient's identity only: a guest pharmacy sees nothing else of the record."""

    id: UUID
    given_name: str
    family_name: str
    date_of_birth: date


class GuestGrantRead(BaseModel):
    id: UUID
    prescription_id: UUID
    patient: GuestPatient
    home_pharmacy: PharmacyCard
    guest_pharmacy: PharmacyCard
    from_date: date
    to_date: date
    note: str
    days_granted: int = Field(description="Instalment days moved to the guest's counter")
    granted_at: datetime
    ended_on: date | None = Field(description="Ended early on this day; None if not")
    end_reason: str | None
    days_returned: int | None = Field(description="Days still due given back when it ended")
    live: bool = Field(description="The guest pharmacy may dose the patient today")


class GuestGrantList(BaseModel):
    items: list[GuestGrantRead]
    next: str | None = None


class TransferBody(In):
    """Transfer the patient to another pharmacy for good, from today."""

    to_ods_code: Annotated[
        str,
        StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z0-9]{3,10}$"),
    ] = Field(description="The new pharmacy's ODS code (it must use Dosekeeper)")
    handover_note: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=10, max_length=2000),
        Controls("\t\n\r", min_visible=10),
    ] = Field(
        description="What the new pharmacy reads first: the regime, the last dose, the "
        "household and anything it must know"
    )


class TransferRead(BaseModel):
    id: UUID
    patient_id: UUID
    from_pharmacy: PharmacyCard
    to_pharmacy: PharmacyCard
    effective_on: date
    handover_note: str
    prescriptions_moved: int
    days_moved: int = Field(description="Instalment days still due that moved")
    household_moved: bool = Field(
        description="The household moved too (no other patient of the old pharmacy lives there)"
    )
    transferred_at: datetime


class TransferList(BaseModel):
    items: list[TransferRead]
    next: str | None = None
