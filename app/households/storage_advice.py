"""Safe-storage advice given about take-home doses in a household: record it, read it.

Given at the first take-home into a home with children and after a lockable box is confirmed
(`app.households.home_safety` says when the counter prompts for it).
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.db import UnitOfWork, retrying
from app.errors import InvalidInput
from app.households.home_safety import ADVICE_TOPICS
from app.households.models import StorageAdvice
from app.households.naloxone import HOME_SAFETY_RECORDERS, member
from app.households.repository import load_visible


@retrying
def record_advice(
    uow: UnitOfWork,
    *,
    actor: Actor,
    household_id: UUID,
    topics: list[str],
    given_to: str,
    patient_id: UUID | None,
    given_on: date,
    note: str,
    today: date,
    now: datetime,
) -> StorageAdvice:
    """Safe-storage advice was given: what it covered, to whom, by whom, when."""
    require_role(actor, HOME_SAFETY_RECORDERS, "record safe-storage advice")
    with uow:
        session = uow.session
        household = load_visible(session, actor, household_id)
        unknown = [t for t in topics if t not in ADVICE_TOPICS]
        if unknown or not topics:
            raise InvalidInput("topics", "known_topics", "name at least one topic from the list")
        if given_on > today:
            raise InvalidInput("given_on", "not_in_future", "cannot be in the future")
        to = given_to.strip()
        if patient_id is not None:
            patient = member(session, household.id, patient_id, "patient_id")
            to = to or f"{patient.given_name} {patient.family_name}"
        if not to:
            raise InvalidInput("given_to", "required", "name who was given the advice")
        advice = StorageAdvice(
            household_id=household.id,
            patient_id=patient_id,
            topics=[t for t in ADVICE_TOPICS if t in topics],
            given_to=to,
            given_on=given_on,
            given_by_id=actor.id,
            note=note,
            created_at=now,
        )
        session.add(advice)
        session.flush()
        audit_service.record(
            session,
            actor,
            "storage_advice.given",
            entity="household",
            entity_id=household.id,
            at=now,
            pharmacy_id=household.pharmacy_id,
            facts={"topics": advice.topics},
        )
        uow.commit()
        return advice


def advice_given(session: Session, household_id: UUID, *, limit: int = 100) -> list[StorageAdvice]:
    """The household's storage advice, newest first."""
    return list(
        session.scalars(
            select(StorageAdvice)
            .where(StorageAdvice.household_id == household_id)
            .order_by(StorageAdvice.created_at.desc())
            .limit(limit)
        )
    )


def list_advice(uow: UnitOfWork, *, actor: Actor, household_id: UUID) -> list[StorageAdvice]:
    with uow:
        household = load_visible(uow.session, actor, household_id)
        return advice_given(uow.session, household.id)
