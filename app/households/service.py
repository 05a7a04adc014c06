"""Use cases for households, the children living in them and their re-confirmation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.audit.service import SYSTEM, Actor
from app.auth.models import Role
from app.auth.policy import may_see_patient, may_see_pharmacy, require_role
from app.config import PolicySettings
from app.contacts.models import Contact, ContactKind
from app.db import UnitOfWork
from app.errors import InvalidInput, NotFound
from app.households.models import Child, Household, HouseholdConfirmation
from app.patients.models import Patient
from app.pharmacies.models import Pharmacy

WRITERS = {Role.ADMIN, Role.PHARMACIST, Role.TECHNICIAN, Role.SAFEGUARDING_LEAD}


def age_on(date_of_birth: date, day: date) -> int:
    years = day.year - date_of_birth.year
    if (day.month, day.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


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


def create_household(
    uow: UnitOfWork,
    *,
    actor: Actor,
    address: str,
    postcode: str,
    notes: str = "",
    pharmacy_id: UUID | None = None,
    now: datetime,
) -> Household:
    """Register a household at the caller's pharmacy (an admin names the pharmacy)."""
    if actor is not SYSTEM:
        require_role(actor, WRITERS, "register households")
    # A pharmacy named in the request is checked, never silently swapped for the caller's own.
    owner = pharmacy_id or actor.pharmacy_id
    if owner is None:
        raise InvalidInput("pharmacy_id", "required", "name the pharmacy registering the household")
    if actor is not SYSTEM and not may_see_pharmacy(actor, owner):
        raise NotFound("pharmacy", owner)
    with uow:
        if uow.session.get(Pharmacy, owner) is None:
            raise NotFound("pharmacy", owner)
        household = Household(
            pharmacy_id=owner,
            address=address,
            postcode=postcode.upper(),
            notes=notes,
            created_at=now,
        )
        uow.session.add(household)
        uow.session.flush()
        audit_service.record(
            uow.session,
            actor,
            "household.created",
            entity="household",
            entity_id=household.id,
            at=now,
            pharmacy_id=owner,
        )
        uow.commit()
        return household


def add_child(
    uow: UnitOfWork,
    *,
    actor: Actor,
    household_id: UUID,
    name: str,
    date_of_birth: date,
    protection_status: str,
    social_worker_id: UUID | None,
    lives_from: date | None,
    today: date,
    now: datetime,
    policy: PolicySettings | None = None,
) -> Child:
    """Record a child living in the household (restricted data: name or initials is enough).

    The household rules run again (DESIGN §3: on child changes): a child on a plan moving into
    a home with take-home methadone is exactly what must not go unnoticed.
    """
    if actor is not SYSTEM:
        require_role(actor, WRITERS, "record children")
    if date_of_birth > today:
        raise InvalidInput("date_of_birth", "not_in_future", "cannot be in the future")
    if age_on(date_of_birth, today) >= 18:
        raise InvalidInput("date_of_birth", "under_18", "a child must be under 18")
    with uow:
        household = load_visible(uow.session, actor, household_id, for_update=True)
        if social_worker_id is not None:
            worker = uow.session.get(Contact, social_worker_id)
            if worker is None or worker.kind not in (ContactKind.SOCIAL_WORKER, ContactKind.MASH):
                raise NotFound("social worker contact", social_worker_id)
        child = Child(
            household_id=household.id,
            name=name,
            date_of_birth=date_of_birth,
            protection_status=protection_status,
            social_worker_id=social_worker_id,
            lives_from=lives_from,
            created_at=now,
        )
        uow.session.add(child)
        uow.session.flush()
        audit_service.record(
            uow.session,
            actor,
            "household.child_added",
            entity="household",
            entity_id=household.id,
            at=now,
            pharmacy_id=household.pharmacy_id,
            facts={"child_id": child.id, "protection_status": protection_status},
        )
        _run_household_rules(
            uow.session,
            household,
            actor=actor,
            today=today,
            now=now,
            policy=policy or PolicySettings(),
        )
        uow.commit()
        return child


def _run_household_rules(
    session: Session,
    household: Household,
    *,
    actor: Actor,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> None:
    from app.dosing import service as dosing_service  # dosing builds on households
    from app.safeguarding import service as safeguarding_service

    member = session.scalar(select(Patient).where(Patient.household_id == household.id).limit(1))
    if member is None:
        return
    for event in dosing_service.household_events(session, member, today, policy):
        safeguarding_service.raise_alert(
            session,
            event,
            actor=actor,
            pharmacy_id=member.pharmacy_id,
            patient_id=member.id,
            household_id=household.id,
            day=today,
            now=now,
            routing=policy.alert_routing,
        )


def confirm_children(
    uow: UnitOfWork,
    *,
    actor: Actor,
    household_id: UUID,
    confirmed_on: date,
    note: str,
    today: date,
    now: datetime,
) -> HouseholdConfirmation:
    """Record that somebody re-confirmed who lives in the household today."""
    if actor is not SYSTEM:
        require_role(actor, WRITERS, "confirm household children")
    if confirmed_on > today:
        raise InvalidInput("confirmed_on", "not_in_future", "cannot be in the future")
    with uow:
        household = load_visible(uow.session, actor, household_id, for_update=True)
        children = current_children(uow.session, household.id, confirmed_on)
        confirmation = HouseholdConfirmation(
            household_id=household.id,
            confirmed_on=confirmed_on,
            confirmed_by_id=actor.id,
            children_count=len(children),
            note=note,
            created_at=now,
        )
        uow.session.add(confirmation)
        if (
            household.children_confirmed_on is None
            or household.children_confirmed_on < confirmed_on
        ):
            household.children_confirmed_on = confirmed_on
        uow.session.flush()
        audit_service.record(
            uow.session,
            actor,
            "household.children_confirmed",
            entity="household",
            entity_id=household.id,
            at=now,
            pharmacy_id=household.pharmacy_id,
            facts={"confirmed_on": confirmed_on, "children": len(children)},
        )
        uow.commit()
        return confirmation


@dataclass
class HouseholdView:
    household: Household
    members: list[Patient]
    children: list[Child]
    confirmations: list[HouseholdConfirmation]
    today: date
    extras: dict[str, Any] = field(default_factory=dict)


def view_household(
    uow: UnitOfWork, *, actor: Actor, household_id: UUID, today: date, now: datetime
) -> HouseholdView:
    """The household as one picture; the read itself is logged (who viewed which record)."""
    with uow:
        household = load_visible(uow.session, actor, household_id)
        members = list(
            uow.session.scalars(
                select(Patient)
                .where(Patient.household_id == household.id)
                .order_by(Patient.family_name, Patient.given_name)
            )
        )
        children = current_children(uow.session, household.id, today)
        confirmations = list(
            uow.session.scalars(
                select(HouseholdConfirmation)
                .where(HouseholdConfirmation.household_id == household.id)
                .order_by(HouseholdConfirmation.confirmed_on.desc())
                .limit(20)
            )
        )
        audit_service.record(
            uow.session,
            actor,
            "household.viewed",
            entity="household",
            entity_id=household.id,
            at=now,
            pharmacy_id=household.pharmacy_id,
        )
        uow.commit()
        return HouseholdView(household, members, children, confirmations, today)


def has_members(session: Session, household_id: UUID) -> bool:
    return bool(session.scalar(select(exists().where(Patient.household_id == household_id))))
