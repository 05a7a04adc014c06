"""Small helpers with no pharmacy meaning: ids, check constraints for enumerations, paging."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum, StrEnum
from typing import Generic, TypeVar
from uuid import UUID, uuid4

from sqlalchemy import CheckConstraint

T = TypeVar("T")


def new_id() -> UUID:
    return uuid4()


# Bound on the ids in one `IN (...)`: well under SQLite's 32 766 host parameters, and small
# enough that PostgreSQL plans it as quickly as a join.
CHUNK = 2000


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """Split ids for `IN (...)` queries over a whole day's patients."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def random_code(nbytes: int = 16) -> str:
    return secrets.token_urlsafe(nbytes)


def one_of(
    column: str, values: Iterable[str] | type[StrEnum], *, name: str | None = None
) -> CheckConstraint:
    """A CHECK constraint keeping an enumerated text column to its values on both databases."""
    allowed = [v.value if isinstance(v, StrEnum) else str(v) for v in values]
    quoted = ", ".join(f"'{v}'" for v in allowed)
    return CheckConstraint(f"{column} IN ({quoted})", name=name or f"{column}_allowed")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    next: str | None


class Unset(Enum):
    """A field an update leaves out, as distinct from None ("clear it")."""

    UNSET = "unset"


UNSET = Unset.UNSET


def spreadsheet_safe(value: str) -> str:
    """Neutralise a spreadsheet formula in text typed by people (CSV injection): a cell that
    starts with =, +, -, @, a tab or a carriage return is quoted with an apostrophe."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def age_on(date_of_birth: date, day: date) -> int:
    """Whole years of age on `day` (a birthday on 29 February counts from 1 March)."""
    years = day.year - date_of_birth.year
    if (day.month, day.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years
