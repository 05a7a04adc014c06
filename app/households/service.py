"""Use cases for households, the children living in them and their re-confirmation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app import events, kit
from app.actor import SYSTEM, Actor
from app.audit import service as audit_service
from app.auth.policy import (
    CLINICIANS,
    may_see_patient,
    may_see_pharmacy,
    pharmacy_scope,
    require_role,
)
from app.auth.roles import Role
from app.config import PolicySettings
from app.contacts.models import Contact, ContactKind
from app.db import UnitOfWork
from app.errors import InvalidInput, NotFound
from app.households.events import HouseholdChanged
from app.households.models import Child, Household, HouseholdChange, HouseholdConfirmation
from app.patients.events import HouseholdNamed, MembersChanged
from app.patients.models import Patient, PatientChange
from app.pharmacies.models import Pharmacy

WRITERS = {Role.ADMIN, Role.PHARMACIST, Role.TECHNICIAN, Role.SAFEGUARDING_LEAD}


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
    unborn: bool = False,
) -> Child:
    """Record a child living in the household (restricted data: name or initials is enough),
    or an unborn child with its expected date of delivery in `date_of_birth`.

    The household rules run again (DESIGN §3: on child changes): a child on a plan moving into
    a home with take-home methadone is exactly what must not go unnoticed. A child joining the
    household also means the children must be re-confirmed before the next take-home, and where
    methadone goes home the social worker and key worker are told.
    """
    if actor is not SYSTEM:
        require_role(actor, WRITERS, "record children")
    check_child_dates(date_of_birth, unborn=unborn, today=today)
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
            unborn=unborn,
            created_at=now,
        )
        uow.session.add(child)
        uow.session.flush()
        _changed(
            uow.session,
            actor,
            household,
            child_id=child.id,
            field="child",
            old=None,
            new=f"{'unborn, expected ' if unborn else 'born '}{date_of_birth.isoformat()}; "
            f"{protection_status}",
            reason="child added",
            now=now,
        )
        if lives_there(child, today):
            household.children_changed_at = now
        audit_service.record(
            uow.session,
            actor,
            "household.child_added",
            entity="household",
            entity_id=household.id,
            at=now,
            pharmacy_id=household.pharmacy_id,
            facts={
                "child_id": child.id,
                "protection_status": protection_status,
                "unborn": unborn,
            },
        )
        run_household_rules(
            uow.session,
            household,
            actor=actor,
            today=today,
            now=now,
            policy=policy or PolicySettings(),
            joined="unborn" if unborn else "added",
        )
        uow.commit()
        return child


def check_child_dates(date_of_birth: date, *, unborn: bool, today: date) -> None:
    """A born child is under 18 and born by today; an unborn child is expected within the
    pregnancy's span (up to 42 weeks ahead, or a few weeks overdue)."""
    if unborn:
        if date_of_birth > today + timedelta(days=UNBORN_AHEAD_DAYS):
            raise InvalidInput(
                "date_of_birth",
                "expected_within_pregnancy",
                "an expected date of delivery is at most 42 weeks ahead",
            )
        if date_of_birth < today - timedelta(days=UNBORN_OVERDUE_DAYS):
            raise InvalidInput(
                "date_of_birth",
                "expected_not_long_past",
                "the expected date has long passed: record the birth instead",
            )
        return
    if date_of_birth > today:
        raise InvalidInput(
            "date_of_birth",
            "not_in_future",
            "cannot be in the future (for an unborn child, record it as unborn with the "
            "expected date of delivery)",
        )
    if kit.age_on(date_of_birth, today) >= 18:
        raise InvalidInput("date_of_birth", "under_18", "a child must be under 18")


# An unborn child's expected date of delivery: up to 42 weeks ahead, or 6 weeks overdue.
UNBORN_AHEAD_DAYS = 42 * 7
UNBORN_OVERDUE_DAYS = 42


def _changed(
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
        household.children_confirmed_at = now
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
            _changed(
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


@dataclass(frozen=True, slots=True)
class ChildUpdate:
    """What may change about a child; None leaves a field as it is."""

    name: str | None = None
    protection_status: str | None = None
    social_worker_id: UUID | None = None
    lives_to: date | None = None  # moved out (or left the household) on this date
    born_on: date | None = None  # an unborn child was born: becomes a child


def update_child(
    uow: UnitOfWork,
    *,
    actor: Actor,
    household_id: UUID,
    child_id: UUID,
    update: ChildUpdate,
    reason: str,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> Child:
    """Change a child's protection status, social worker, name; record a move out or a birth.

    Each change is a history row with who, when and why. A birth or a move changes who lives
    there, so the children must be re-confirmed before the next take-home; the household rules
    run again after every change (a child placed on a plan in a home where methadone goes home
    is news for the social worker).
    """
    require_role(actor, WRITERS, "change children")
    with uow:
        session = uow.session
        household = load_visible(session, actor, household_id, for_update=True)
        child = session.get(Child, child_id)
        if child is None or child.household_id != household.id:
            raise NotFound("child", child_id)
        joined: str | None = None
        if update.social_worker_id is not None:
            worker = session.get(Contact, update.social_worker_id)
            if worker is None or worker.kind not in (ContactKind.SOCIAL_WORKER, ContactKind.MASH):
                raise NotFound("social worker contact", update.social_worker_id)
        if update.born_on is not None:
            if not child.unborn:
                raise InvalidInput("born_on", "unborn_only", "this child is already born")
            check_child_dates(update.born_on, unborn=False, today=today)
        if update.lives_to is not None:
            if update.lives_to > today + timedelta(days=1):
                raise InvalidInput("lives_to", "not_in_future", "record a move once it happens")
            if child.lives_to is not None:
                raise InvalidInput("lives_to", "already_left", "this child has already left")
        values: dict[str, object] = {}
        if update.name is not None and update.name != child.name:
            values["name"] = update.name
        if update.protection_status is not None and update.protection_status != (
            child.protection_status
        ):
            values["protection_status"] = update.protection_status
        if update.social_worker_id is not None and update.social_worker_id != (
            child.social_worker_id
        ):
            values["social_worker_id"] = update.social_worker_id
        if update.born_on is not None:
            values["date_of_birth"] = update.born_on
            values["unborn"] = False
            joined = "born"
        if update.lives_to is not None:
            values["lives_to"] = update.lives_to
        for name, value in values.items():
            _changed(
                session,
                actor,
                household,
                child_id=child.id,
                field=name,
                old=getattr(child, name),
                new=value,
                reason=reason,
                now=now,
            )
            setattr(child, name, value)
        if "unborn" in values or "lives_to" in values:
            household.children_changed_at = now
        if values:
            audit_service.record(
                session,
                actor,
                "household.child_updated",
                entity="household",
                entity_id=household.id,
                at=now,
                pharmacy_id=household.pharmacy_id,
                facts={"child_id": child.id, "fields": sorted(values)},
            )
            session.flush()
            run_household_rules(
                session, household, actor=actor, today=today, now=now, policy=policy, joined=joined
            )
        uow.commit()
        return child


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
