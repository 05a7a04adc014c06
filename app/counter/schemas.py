"""Bodies of the counter API: a scan at the counter, a guest patient's card, the dose pump."""

from __future__ import annotations

import datetime as dt
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from app.counter.guests import GuestCard
from app.http.schemas import BARCODE, In


class ScanBody(In):
    code: Annotated[str, BARCODE, Field(min_length=1, max_length=500)]
    symbology: Annotated[str, Field(max_length=4)] | None = None
    patient_id: UUID | None = Field(
        default=None, description="The patient at the counter, to check a label belongs to them"
    )


class PumpDispenseBody(In):
    patient_id: UUID = Field(description="The patient at the counter; today's dose is measured")
    container: Literal["supervised"] | Annotated[int, Field(ge=1, le=99)] | None = Field(
        default=None,
        description='Which container of today\'s handover: "supervised" (the cup swallowed '
        "here: today's supervised dose, or the supervised part of a split dose) or a take-home "
        "container's number as its label says (Container 2 of 3 is 2). Left out: the "
        "handover's only container (409 container_required when it fills several)",
    )


class PumpDispenseRead(BaseModel):
    patient_id: UUID
    date: date
    product: str | None
    container: str = Field(description='"supervised" or the take-home container\'s number')
    container_words: str = Field(description="The container, as the counter says it")
    dose_dates: list[dt.date] = Field(description="The dose dates the container holds")
    request_id: str = Field(description="The id the pump answered to (docs/pump-protocol.md)")
    requested_ml: str = Field(description="The container's volume in mL, as sent to the pump")
    dispensed_ml: str = Field(
        description="What the pump reports it measured out: give it to the handover in "
        "`pump_measures` with its container (the handover also reads it from the record)"
    )
    matches: bool
    message: str


class GuestPatientRead(BaseModel):
    id: UUID
    given_name: str
    family_name: str
    date_of_birth: date
    nhs_number: str
    household_id: None = Field(default=None, description="Never given to a guest pharmacy")


class GuestChildRead(BaseModel):
    id: UUID = Field(description="To record the child as present at the counter")
    name: str = Field(description="The name or initials recorded")
    age_years: int
    protection_status: str


class GuestBoxRead(BaseModel):
    patient_id: UUID
    valid_until: date
    valid_today: bool


class GuestHouseholdRead(BaseModel):
    """The household facts the counter's checks use, as far as a guest pharmacy needs them."""

    id: None = Field(default=None, description="Never given to a guest pharmacy")
    children: list[GuestChildRead]
    children_confirmed_on: date | None
    members: list[Any] = Field(
        default_factory=list, description="Never listed for a guest pharmacy"
    )
    other_patients_at_home: int = Field(description="Other methadone patients living there")
    boxes: list[GuestBoxRead] = Field(description="This patient's lockable box, if seen")
    methadone_at_home_mg: Decimal


class GuestStayRead(BaseModel):
    home_pharmacy: dict[str, str] = Field(description="name, ods_code, address, phone")
    from_date: date
    to_date: date


class GuestCardRead(BaseModel):
    patient: GuestPatientRead
    guest: GuestStayRead
    household: GuestHouseholdRead | None = Field(
        description="None: no household is recorded (nobody knows whether children live there)"
    )

    @classmethod
    def of(cls, card: GuestCard) -> GuestCardRead:
        patient, home, grant = card.patient, card.home, card.grant
        return cls(
            patient=GuestPatientRead(
                id=patient.id,
                given_name=patient.given_name,
                family_name=patient.family_name,
                date_of_birth=patient.date_of_birth,
                nhs_number=patient.nhs_number,
            ),
            guest=GuestStayRead(
                home_pharmacy={
                    "name": home.name,
                    "ods_code": home.ods_code,
                    "address": home.address,
                    "phone": home.phone,
                },
                from_date=grant.from_date,
                to_date=grant.to_date,
            ),
            household=None
            if patient.household_id is None
            else GuestHouseholdRead(
                children=[
                    GuestChildRead(
                        id=c.id,
                        name=c.name,
                        age_years=card.age(c),
                        protection_status=c.protection_status,
                    )
                    for c in card.children
                ],
                children_confirmed_on=card.children_confirmed_on,
                other_patients_at_home=card.other_patients_at_home,
                boxes=[
                    GuestBoxRead(
                        patient_id=patient.id,
                        valid_until=card.box_valid_until,
                        valid_today=card.box_valid_until >= card.today,
                    )
                ]
                if card.box_valid_until is not None
                else [],
                methadone_at_home_mg=card.methadone_at_home_mg,
            ),
        )
