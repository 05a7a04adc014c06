"""What households tell the capabilities above them (see `app.events`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from app.actor import Actor
from app.config import PolicySettings


@dataclass(frozen=True, slots=True)
class HouseholdChanged:
    """Who lives in a household changed, or something about them that the household rules
    read (DESIGN §3): the rules run again in the same transaction and may raise alerts.

    `joined` says how a child has just joined it (added, born, unborn, moved in), or None.
    """

    household_id: UUID
    actor: Actor
    today: date
    now: datetime
    policy: PolicySettings
    joined: str | None = None
