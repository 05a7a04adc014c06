"""What dosing tells the capabilities above it (see `app.events`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from app.actor import Actor
from app.config import PolicySettings


@dataclass(frozen=True, slots=True)
class DayClosed:
    """A pharmacy's day was closed (`app.dosing.close_day`): whatever else must be checked at
    the end of every day runs now, in the close's transaction, and raises its own alerts
    (a long-acting injection past its window: `app.injections.overdue`)."""

    pharmacy_id: UUID
    day: date
    actor: Actor
    now: datetime
    policy: PolicySettings
