"""Use cases for households: register, list, view and change one; who may see it and who
lives there; its change history; and the household rules run again after a change (also when a
patient joins or leaves, answered here from `app.patients.events`).

The children's own use cases (recording, changing, re-confirming them) are in
`app.households.children`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app import events
from app.actor import SYSTEM, Actor
from app.audit import service as audit_service
from app.auth.policy import (
    CLINICIANS,
    may_see_pharmacy,
    pharmacy_scope,
    require_role,
)
from app.auth.roles import Role
from app.config import PolicySettings
from app.db import UnitOfWork
from app.errors import InvalidInput, NotFound
from app.households.events import HouseholdChanged
from app.households.models import Child, Household, HouseholdChange, HouseholdConfirmation
from app.households.repository import current_children, load_visible
from app.patients.events import HouseholdNamed, MembersChanged
from app.patients.models import Patient, PatientChange
from app.pharmacies.models import Pharmacy

WRITERS = {Role.ADMIN, Role.PHARMACIST, Role.TECHNICIAN, Role.SAFEGUARDING_LEAD}


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


def list_households(uow: UnitOfWork, *, actor: Actor, limit: int = 500) -> list[Household]:
    """The households registered at the pharmacies the caller may see, by postcode."""
    with uow:
        query = select(Household).order_by(Household.postcode, Household.address)
        scope = pharmacy_scope(actor)
        if actor.role in CLINICIANS:
            return []
        if scope is not None:
            query = query.where(Household.pharmacy_id == scope)
        return list(uow.session.scalars(query.limit(limit)))


def record_change(
    session: Session,
    actor: Actor,
    household: Household,
    *,
    field: str,
    old: object,
    new: object,
    reason: str,
    now: datetime,
    child_id: UUID | None = None,
) -> None:
    """Append one history row: nothing about a household is overwritten without trace."""
    session.add(
        HouseholdChange(
            household_id=household.id,
            child_id=child_id,
            field=field,
            old_value=_text(old),
            new_value=_text(new),
            reason=reason,
            changed_by_id=actor.id if actor is not SYSTEM else None,
            changed_at=now,
        )
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def run_household_rules(
    session: Session,
    household: Household,
    *,
    actor: Actor,
    today: date,
    now: datetime,
    policy: PolicySettings,
    joined: str | None = None,
) -> None:
    """Run the household rules after a change to the household (DESIGN §3), raising their
    alerts in the caller's transaction; `joined` says a child has just joined it (added, born,
    unborn, moved in).

    The rules read the dosing ledger, which sits above households, so the change is published
    (`app.events`) and answered by `app.dosing.household.on_household_changed`."""
    events.publish(
        session,
        HouseholdChanged(
            household_id=household.id,
            actor=actor,
            today=today,
            now=now,
            policy=policy,
            joined=joined,
        ),
    )


@dataclass
class HouseholdView:
    household: Household
    members: list[Patient]
    children: list[Child]
    confirmations: list[HouseholdConfirmation]
    today: date
    extras: dict[str, Any] = field(default_factory=dict)
    # Changes to the household, its children and its members, newest first.
    history: list[HouseholdChange | PatientChange] = field(default_factory=list)


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
        history: list[HouseholdChange | PatientChange] = [
            *changes(uow.session, household.id),
            *uow.session.scalars(
                select(PatientChange)
                .where(PatientChange.patient_id.in_([m.id for m in members]))
                .order_by(PatientChange.changed_at.desc())
                .limit(200)
            ),
        ]
        history.sort(key=lambda change: change.changed_at, reverse=True)
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
        return HouseholdView(household, members, children, confirmations, today, history=history)


def has_members(session: Session, household_id: UUID) -> bool:
    return bool(session.scalar(select(exists().where(Patient.household_id == household_id))))


HOUSEHOLD_FIELDS = ("address", "postcode", "notes")


def update_household(
    uow: UnitOfWork,
    *,
    actor: Actor,
    household_id: UUID,
    changes: dict[str, str],
    reason: str,
    now: datetime,
) -> Household:
    """Change a household's address, postcode or notes; each change is a history row."""
    require_role(actor, WRITERS, "change households")
    unknown = set(changes) - set(HOUSEHOLD_FIELDS)
    if unknown:
        raise InvalidInput(sorted(unknown)[0], "not_changeable", "cannot be changed here")
    with uow:
        household = load_visible(uow.session, actor, household_id, for_update=True)
        changed = []
        for name, value in changes.items():
            value = value.upper() if name == "postcode" else value
            if getattr(household, name) == value:
                continue
            record_change(
                uow.session,
                actor,
                household,
                field=name,
                old=getattr(household, name),
                new=value,
                reason=reason,
                now=now,
            )
            setattr(household, name, value)
            changed.append(name)
        if changed:
            audit_service.record(
                uow.session,
                actor,
                "household.updated",
                entity="household",
                entity_id=household.id,
                at=now,
                pharmacy_id=household.pharmacy_id,
                facts={"fields": changed},
            )
        uow.commit()
        return household


def changes(session: Session, household_id: UUID, *, limit: int = 200) -> list[HouseholdChange]:
    """The household's change history, newest first."""
    return list(
        session.scalars(
            select(HouseholdChange)
            .where(HouseholdChange.household_id == household_id)
            .order_by(HouseholdChange.changed_at.desc(), HouseholdChange.id)
            .limit(limit)
        )
    )


def on_household_named(session: Session, event: HouseholdNamed) -> None:
    """A patient is being linked to a household: refuse one the caller may not see (or that
    does not exist) exactly as a household look-up would."""
    load_visible(session, event.actor, event.household_id)


def on_members_changed(session: Session, event: MembersChanged) -> None:
    """A patient joined or left: each household touched has its rules run again."""
    for household_id in sorted(event.household_ids):
        household = load_visible(session, SYSTEM, household_id)
        run_household_rules(
            session,
            household,
            actor=event.actor,
            today=event.today,
            now=event.now,
            policy=event.policy,
        )


events.subscribe(HouseholdNamed, on_household_named)
events.subscribe(MembersChanged, on_members_changed)


def move_registration(
    session: Session,
    actor: Actor,
    household: Household,
    pharmacy_id: UUID,
    *,
    reason: str,
    now: datetime,
) -> None:
    """Another pharmacy keeps the household from now on (its last member here transferred
    there), with the change in the household's history; the caller's transaction."""
    record_change(
        session,
        actor,
        household,
        field="pharmacy_id",
        old=household.pharmacy_id,
        new=pharmacy_id,
        reason=reason[:500],
        now=now,
    )
    household.pharmacy_id = pharmacy_id
