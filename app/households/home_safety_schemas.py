"""Request and response bodies of take-home naloxone and safe-storage advice (households API)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from app.households.models import NaloxoneRecipient
from app.http.schemas import Controls, In, IsoDate, Name, Note, Out, Text200

Batch = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    Controls(min_visible=1),
]
NaloxoneProduct = Literal["prenoxad_injection", "nyxoid_nasal", "other"]
AdviceTopic = Literal[
    "lockable_box",
    "out_of_reach",
    "original_container",
    "return_unused",
    "naloxone",
    "child_swallowed",
]


class NaloxoneCreate(In):
    product: NaloxoneProduct = Field(
        description="prenoxad_injection (Prenoxad 1 mg/mL injection kit), nyxoid_nasal (Nyxoid "
        "1.8 mg nasal spray) or other (name it in product_name)"
    )
    product_name: Text200 | None = None
    batch: Batch
    expires_on: IsoDate = Field(description="The kit's expiry date: not before the supply")
    trained: bool = Field(description="The person who received it was shown how to use it")
    recipient: NaloxoneRecipient = Field(
        description="patient (name them in patient_id) or household_adult (recipient_name)"
    )
    recipient_name: Name | None = None
    patient_id: UUID | None = Field(
        default=None, description="The patient it was supplied for (a member of the household)"
    )
    supplied_on: IsoDate | None = Field(default=None, description="Default: today")
    note: Note = ""


class NaloxoneRead(Out):
    id: UUID
    household_id: UUID
    patient_id: UUID | None
    product: str
    product_name: str
    batch: str
    expires_on: IsoDate
    trained: bool
    recipient: str
    recipient_name: str
    supplied_on: IsoDate
    supplied_by_id: UUID
    note: str
    created_at: datetime


class NaloxoneInDate(NaloxoneRead):
    in_date: bool


class NaloxoneList(Out):
    household_id: UUID
    in_date: bool = Field(description="Someone in the household holds naloxone in date")
    items: list[NaloxoneInDate]


class AdviceCreate(In):
    topics: list[AdviceTopic] = Field(min_length=1, max_length=6)
    given_to: Name | None = Field(
        default=None, description="Who was advised (default: the patient named in patient_id)"
    )
    patient_id: UUID | None = None
    given_on: IsoDate | None = Field(default=None, description="Default: today")
    note: Note = ""


class AdviceRead(Out):
    id: UUID
    household_id: UUID
    patient_id: UUID | None
    topics: list[str]
    given_to: str
    given_on: IsoDate
    given_by_id: UUID
    note: str
    created_at: datetime


class AdviceList(Out):
    household_id: UUID
    items: list[AdviceRead]
