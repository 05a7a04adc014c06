"""Time: UTC instants for storage, pharmacy-local calendar dates for everything clinical.

A dose date is the pharmacy's calendar day in its own time zone (Europe/London), so the
day boundary moves with British Summer Time; timestamps are stored in UTC. Rules never read
the clock: services ask a `Clock` and pass `today` in.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock for tests and demos that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._at += delta


def local_date(instant: datetime, timezone: str) -> date:
    """The calendar date of `instant` at a pharmacy in `timezone`."""
    return instant.astimezone(ZoneInfo(timezone)).date()


def local_midnight_utc(day: date, timezone: str) -> datetime:
    """The UTC instant at which `day` begins in `timezone` (handles 23- and 25-hour days)."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)
