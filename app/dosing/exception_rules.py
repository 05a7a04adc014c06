"""Which part of a supplied day a dose exception concerns, and how much a replacement may be
(issue 20 §1 and §2). Pure: standard library and the intake vocabulary only.

A day supplied whole (a take-home collected, one supervised dose swallowed) is concerned whole.
A split dose on a supervised day is two things at once (issue 20 §2): the supervised part(s)
swallowed at the counter, and the other parts sent home in their own containers (the evening
part). So:

- vomited concerns the part(s) swallowed: a replacement can never give back the evening part,
  which went home and was not brought up;
- lost, stolen, damaged and returned concern the part(s) that went home: the evening part of a
  split day is a take-home like any other (and raises the children's alert like any other);
- spilt at the counter concerns the day's dose as handed over (which container was spilt is
  not recorded; the replacement is at most that, and the prescriber authorises the amount).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from app.prescriptions.intake_terms import DosePart

__all__ = [
    "SuppliedDay",
    "concerned_mg",
    "home_mg",
    "largest_day_mg",
    "same_part",
    "spread",
    "swallowed_mg",
]

SWALLOWED_KINDS = frozenset({"vomited"})
HOME_KINDS = frozenset({"lost", "stolen", "damaged", "returned"})


@dataclass(frozen=True, slots=True)
class SuppliedDay:
    """A ledger day as supplied: `state` supervised (swallowed here) or collected (went home)."""

    dose_date: date
    state: str
    dose_mg: Decimal
    parts: tuple[DosePart, ...] = ()


def home_mg(day: SuppliedDay) -> Decimal:
    """What of the day went home: all of a collected day; of a supervised day, its parts that
    are not supervised (0 for a supervised day of one dose)."""
    if day.state == "collected":
        return day.dose_mg
    if day.state == "supervised":
        return sum((part.dose_mg for part in day.parts if not part.supervised), Decimal(0))
    return Decimal(0)


def swallowed_mg(day: SuppliedDay) -> Decimal:
    """What of the day was swallowed at the counter: a supervised day's dose, or of a split one
    its supervised part(s); nothing of a collected day."""
    if day.state != "supervised":
        return Decimal(0)
    if not day.parts:
        return day.dose_mg
    return sum((part.dose_mg for part in day.parts if part.supervised), Decimal(0))


def concerned_mg(kind: str, day: SuppliedDay) -> Decimal:
    """The mg of `day` an exception of `kind` concerns (0: it cannot concern that day)."""
    if kind in SWALLOWED_KINDS:
        return swallowed_mg(day)
    if kind in HOME_KINDS:
        return home_mg(day)
    return day.dose_mg


def same_part(kind: str, other: str) -> bool:
    """Two exceptions of one day concern the same dose: of a split day, the part swallowed
    (vomited) and the parts sent home (lost, stolen, damaged, returned) are two doses, each
    with its own exception; a spill may be of either, so it meets both."""
    return not (
        (kind in SWALLOWED_KINDS and other in HOME_KINDS)
        or (kind in HOME_KINDS and other in SWALLOWED_KINDS)
    )


def largest_day_mg(kind: str, days: Sequence[SuppliedDay]) -> Decimal:
    """The most an exception of `kind` concerns on any one of its days: a supervised
    replacement is swallowed at one visit, so it is at most this (one day's dose)."""
    return max((concerned_mg(kind, day) for day in days), default=Decimal(0))


def spread(kind: str, days: Sequence[SuppliedDay], mg: Decimal) -> list[tuple[date, Decimal]]:
    """A replacement's mg over the exception's days, earliest first, each at most what the
    exception concerns of that day: the register line names exactly the days it replaces."""
    left, parts = mg, []
    for day in sorted(days, key=lambda d: d.dose_date):
        if left <= 0:
            break
        part = min(left, concerned_mg(kind, day))
        if part > 0:
            parts.append((day.dose_date, part))
            left -= part
    return parts
