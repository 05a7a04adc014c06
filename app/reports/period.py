"""What every report over a period shares: the longest period one may cover (`check_period`)
and the dose-day states a report counts (`FINAL`: decided, never still due).
"""

from __future__ import annotations

from datetime import date

from app.dosing.models import DoseState
from app.errors import InvalidInput

FINAL = (
    DoseState.SUPERVISED,
    DoseState.COLLECTED,
    DoseState.MISSED,
    DoseState.WITHHELD,
    DoseState.NOT_DISPENSED,
)
MAX_PERIOD_DAYS = 366


def check_period(start: date, end: date) -> None:
    if end < start:
        raise InvalidInput("to", "after_from", "must not be before 'from'")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidInput("to", "max_range", "the period may be at most a year")
