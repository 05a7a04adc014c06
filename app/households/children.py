"""Use cases for the children living in a household: recording one (born or unborn), changing
one (a plan, a social worker, a birth, a move out), and re-confirming who lives there.

Children are restricted data and every change to them re-runs the household rules, so they
have a module of their own beside `app.households.service`, which owns the household itself,
who may see it, its history and the rules run after a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from app import kit
from app.actor import SYSTEM, Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.config import PolicySettings
from app.contacts.models import Contact, ContactKind
from app.db import UnitOfWork
from app.errors import InvalidInput, NotFound
from app.households.models import Child, HouseholdConfirmation
from app.households.repository import current_children, lives_there, load_visible
from app.households.service import WRITERS, record_change, run_household_rules


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
        record_change(
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
            record_change(
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
