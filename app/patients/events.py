"""What patients tell the capabilities above them (see `app.events`).

A patient lives in a household, but households sit above patients (a household's visibility and
its rules read its members), so linking a patient to one is announced here and answered by
`app.households.service`, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from app.actor import Actor
from app.config import PolicySettings


@dataclass(frozen=True, slots=True)
class HouseholdNamed:
    """A patient is about to be linked to this household by `actor`: the household must exist
    and be visible to them, or the link is refused (NotFound, as for any unseen record)."""

    household_id: UUID
    actor: Actor


@dataclass(frozen=True, slots=True)
class MembersChanged:
    """A patient joined or left these households: their household rules run again."""

    household_ids: frozenset[UUID]
    actor: Actor
    today: date
    now: datetime
    policy: PolicySettings
