"""The households table's own queries and who may see a household (the registering pharmacy, or
anyone who may see one of its members): decided here once for every read. Also which children
live there on a given day, which the counter, the alerts and the reports all ask.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import SYSTEM, Actor
from app.auth.policy import (
    may_see_patient,
    may_see_pharmacy,
)
from app.errors import NotFound
from app.households.models import Child, Household
from app.patients.models import Patient


def may_see_household(session: Session, actor: Actor, household: Household) -> bool:
    """Visible to the registering pharmacy, or through any member the caller may see."""
    if actor is SYSTEM or may_see_pharmacy(actor, household.pharmacy_id):
        return True
    members = session.scalars(select(Patient).where(Patient.household_id == household.id))
    return any(
        may_see_patient(
            actor,
            pharmacy_id=m.pharmacy_id,
            key_worker_id=m.key_worker_id,
            prescriber_id=m.prescriber_id,
        )
        for m in members
    )


def load_visible(
    session: Session, actor: Actor, household_id: UUID, *, for_update: bool = False
) -> Household:
    query = select(Household).where(Household.id == household_id)
    if for_update:
        query = query.with_for_update()
    household = session.scalar(query)
    if household is None or not may_see_household(session, actor, household):
        raise NotFound("household", household_id)
    return household


def current_children(session: Session, household_id: UUID, today: date) -> list[Child]:
    """Children living in the household on `today` (lives_from/lives_to respected)."""
    children = session.scalars(
        select(Child).where(Child.household_id == household_id).order_by(Child.date_of_birth)
    )
    return [c for c in children if lives_there(c, today)]


def lives_there(child: Child, day: date) -> bool:
    """Whether the child lives in the household on `day` (lives_from/lives_to respected)."""
    return (child.lives_from is None or child.lives_from <= day) and (
        child.lives_to is None or child.lives_to >= day
    )


def by_id(session: Session, household_id: UUID, *, for_update: bool = False) -> Household | None:
    """One household, with no visibility check: for a use case that already holds a member the
    caller may see (a transfer moving the household with its last member)."""
    query = select(Household).where(Household.id == household_id)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)
