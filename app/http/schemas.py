"""Shared request/response shapes: strict input (unknown fields refused), paged lists."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints
from pydantic_core import PydanticCustomError

T = TypeVar("T")


def _iso_date(value: Any) -> Any:
    """Dates are written YYYY-MM-DD: a bare number is refused, never read as a Unix time."""
    if isinstance(value, date) or (
        isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value)
    ):
        return value  # pydantic checks the calendar (2026-02-30 is still refused)
    raise PydanticCustomError(
        "date_from_datetime_parsing", "Input should be a date written YYYY-MM-DD"
    )


IsoDate = Annotated[date, BeforeValidator(_iso_date)]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text500 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Postcode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_upper=True, pattern=r"^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$"
    ),
]


class In(BaseModel):
    """Input bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Paged(BaseModel, Generic[T]):
    items: list[T]
    next: str | None = None
