"""Request and response bodies of the households API (also read by the household view,
which `app.reports.api` composes)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, Field

from app.households.models import ProtectionStatus
from app.http.schemas import In, IsoDate, Name, Note, Out, Postcode, Reason, Text500


class HouseholdCreate(In):
    address: Text500
    postcode: Postcode
    notes: Note = ""
    pharmacy_id: UUID | None = None


class ChildCreate(In):
    name: Name
    date_of_birth: IsoDate = Field(
        description="Date of birth; for an unborn child, the expected date of delivery"
    )
    protection_status: ProtectionStatus = ProtectionStatus.NONE
    social_worker_id: UUID | None = None
    lives_from: IsoDate | None = None
    unborn: bool = Field(
        default=False,
        description="Not born yet (a pre-birth plan is recorded as its protection status): "
        "the household rules treat the child as a newborn living there",
    )


class HouseholdChangeBody(In):
    address: Text500 | None = None
    postcode: Postcode | None = None
    notes: Note | None = None
    reason: Reason = Field(description="Why it changed (kept in the history)")


class ChildChangeBody(In):
    name: Name | None = None
    protection_status: ProtectionStatus | None = None
    social_worker_id: UUID | None = None
    lives_to: IsoDate | None = Field(default=None, description="The child moved out on this date")
    born_on: IsoDate | None = Field(
        default=None, description="An unborn child was born on this date: it becomes a child"
    )
    reason: Reason = Field(description="Why it changed (kept in the history)")


class ChangeRead(Out):
    id: UUID
    child_id: UUID | None = None
    patient_id: UUID | None = None
    field: str
    old_value: str | None
    new_value: str | None
    reason: str
    changed_by_id: UUID | None
    changed_at: datetime


class ConfirmationCreate(In):
    confirmed_on: IsoDate | None = None
    note: Note = ""


class HouseholdRead(Out):
    id: UUID
    pharmacy_id: UUID
    address: str
    postcode: str
    notes: str
    children_confirmed_on: IsoDate | None


class ChildRead(Out):
    id: UUID
    household_id: UUID
    name: str
    date_of_birth: IsoDate
    protection_status: str
    social_worker_id: UUID | None
    lives_from: IsoDate | None
    lives_to: IsoDate | None
    unborn: bool = False


class ChildInView(ChildRead):
    age_years: int


class MemberRead(BaseModel):
    id: UUID
    given_name: str
    family_name: str
    pharmacy_id: UUID


class ConfirmationRead(Out):
    id: UUID
    confirmed_on: IsoDate
    confirmed_by_id: UUID | None
    children_count: int
    note: str


class HouseholdViewRead(HouseholdRead):
    members: list[MemberRead]
    children: list[ChildInView]
    confirmations: list[ConfirmationRead]
    methadone_at_home_mg: Decimal = Field(
        description="Take-home methadone handed over to any member and not yet past its date"
    )
    boxes: list[dict[str, object]]
    open_alerts: list[dict[str, object]]
    naloxone_in_date: bool = Field(
        default=False, description="Someone in the household holds take-home naloxone in date"
    )
    naloxone: list[dict[str, object]] = Field(
        default=[], description="Take-home naloxone supplied, newest first, each in date or not"
    )
    storage_advice: list[dict[str, object]] = Field(
        default=[], description="Safe-storage advice given (what, to whom, by whom, when)"
    )
    history: list[ChangeRead] = Field(
        default=[],
        description="Changes to the household, its children and its members, newest first",
    )
