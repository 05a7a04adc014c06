"""Request and response bodies of the pharmacies API (a branch, its opening days, closures)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BeforeValidator, Field, StrictInt, field_validator

from app.http.schemas import In, IsoDate, Out, Text200, Text500


def _whole_number(value: object) -> object:
    """JSON does not tell 3 from 3.0, so neither does the API; "3" and true stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Weekday = Annotated[StrictInt, Field(ge=0, le=6), BeforeValidator(_whole_number)]
# Each weekday at most once; `uniqueItems` says so in the schema.
Weekdays = Annotated[
    list[Weekday], Field(min_length=1, max_length=7, json_schema_extra={"uniqueItems": True})
]


def _distinct(value: list[int]) -> list[int]:
    if len(set(value)) != len(value):
        raise ValueError("each weekday at most once (0 = Monday … 6 = Sunday)")
    return sorted(value)


class ClosureIn(In):
    date: IsoDate
    reason: Text200


class PharmacyCreate(In):
    name: Text200
    ods_code: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{3,10}$")]
    address: Text500
    phone: Annotated[str, Field(min_length=3, max_length=40, pattern=r"^[0-9 +()-]+$")]
    open_weekdays: Weekdays
    closures: Annotated[list[ClosureIn], Field(max_length=400)] = []

    _distinct_days = field_validator("open_weekdays")(_distinct)


class ClosureRead(Out):
    date: IsoDate = Field(validation_alias="closed_on")
    reason: str


class PharmacyRead(Out):
    id: UUID
    name: str
    ods_code: str
    address: str
    phone: str
    timezone: str
    open_weekdays: list[int]
    closures: list[ClosureRead]


class OpeningDays(In):
    open_weekdays: Weekdays
    confirm_affected: bool = Field(
        default=False,
        description="Save although schedules still collect on a weekday that stops opening "
        "(the refusal `opening_days_affect_schedules` lists them)",
    )

    _distinct_days = field_validator("open_weekdays")(_distinct)
