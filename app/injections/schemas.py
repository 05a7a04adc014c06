"""The injection log's request and response bodies (`app.injections.api`'s routes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints

from app.http.schemas import Controls, In, IsoDate, IsoDateTime, Note, Reason

Product = Literal["buvidal-weekly", "buvidal-monthly"]
Site = Literal["abdomen", "thigh", "buttock", "upper_arm"]
Batch = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    Controls(min_visible=1),
]
OptionalLine = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), Controls()]
OptionalName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), Controls()]


class CourseBody(In):
    """Start a course of long-acting buprenorphine injections (the prescriber's plan)."""

    product: Product = Field(description="buvidal-weekly (every 7 days) or buvidal-monthly (28)")
    dose_mg: int = Field(ge=1, le=1000, description="One of the product's strengths")
    started_on: IsoDate = Field(description="The day the first dose is due")
    prescriber_id: UUID | None = Field(
        default=None, description="The prescriber (default: the patient's own)"
    )
    note: Note = ""


class AdministrationBody(In):
    """One dose given: here (a pharmacist records their own act) or elsewhere (the clinic)."""

    place: Literal["here", "elsewhere"]
    given_at: IsoDateTime = Field(description="When it was given (not in the future)")
    dose_mg: int = Field(ge=1, le=1000, description="The course's dose")
    site: Site
    batch: Batch
    expires_on: IsoDate = Field(description="The batch's expiry date")
    given_by: OptionalName = Field(
        default="", description="Who gave it (here: the pharmacist signed in, unless named)"
    )
    given_by_role: OptionalName = Field(default="", description="e.g. nurse, pharmacist")
    place_name: OptionalLine = Field(
        default="", description="Where it was given, when elsewhere (e.g. the drug service clinic)"
    )
    note: Note = ""


class StopBody(In):
    stopped_on: IsoDate = Field(description="The day it stops (today or a day already past)")
    reason: Reason = Field(description="Why the course stops")


class AdministrationRead(BaseModel):
    id: UUID
    course_id: UUID
    given_at: datetime
    given_on: date
    dose_mg: int
    site: str
    batch: str
    expires_on: date
    given_by: str
    given_by_role: str
    place: str
    place_name: str
    note: str
    recorded_at: datetime


class StopRead(BaseModel):
    stopped_on: date
    reason: str
    stopped_at: datetime


class StatusRead(BaseModel):
    state: Literal["stopped", "scheduled", "due", "overdue"]
    next_due: date | None
    window_opens: date | None
    overdue_from: date | None
    days_overdue: int
    words: str


class CourseRead(BaseModel):
    id: UUID
    patient_id: UUID
    product: str
    product_name: str
    dose_mg: int
    interval_days: int
    started_on: date
    prescriber_id: UUID
    note: str
    recorded_at: datetime
    stop: StopRead | None
    last_given: AdministrationRead | None
    status: StatusRead
    administrations: list[AdministrationRead]


class CourseList(BaseModel):
    items: list[CourseRead]
    next: str | None = None


__all__ = [
    "AdministrationBody",
    "AdministrationRead",
    "CourseBody",
    "CourseList",
    "CourseRead",
    "StopBody",
]
