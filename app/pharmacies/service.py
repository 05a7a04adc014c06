"""Use cases for pharmacies and their opening calendar."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.actor import SYSTEM, Actor
from app.audit import service as audit_service
from app.auth.policy import pharmacy_scope, require_role
from app.auth.roles import Role
from app.db import UnitOfWork
from app.errors import Conflict, InvalidInput
from app.pharmacies.models import Closure, Pharmacy
from app.pharmacies.repository import load_visible


def create_pharmacy(
    uow: UnitOfWork,
    *,
    actor: Actor,
    name: str,
    ods_code: str,
    address: str,
    phone: str,
    open_weekdays: Sequence[int],
    closures: Sequence[tuple[date, str]] = (),
    timezone: str = "Europe/London",
    now: datetime,
) -> Pharmacy:
    """Register a branch with its opening days and any closures already known."""
    if actor is not SYSTEM:
        require_role(actor, {Role.ADMIN}, "register pharmacies")
    with uow:
        pharmacy = Pharmacy(
            name=name,
            ods_code=ods_code.upper(),
            address=address,
            phone=phone,
            timezone=timezone,
            open_weekdays=sorted(set(open_weekdays)),
            created_at=now,
        )
        uow.session.add(pharmacy)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise Conflict(
                f"A pharmacy with ODS code {ods_code!r} exists", code="duplicate_ods_code"
            ) from exc
        for closed_on, reason in closures:
            uow.session.add(
                Closure(
                    pharmacy_id=pharmacy.id,
                    closed_on=closed_on,
                    reason=reason,
                    created_at=now,
                    created_by_id=actor.id,
                )
            )
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise Conflict(
                "The same closure date is listed twice", code="duplicate_closure"
            ) from exc
        audit_service.record(
            uow.session,
            actor,
            "pharmacy.created",
            entity="pharmacy",
            entity_id=pharmacy.id,
            at=now,
            pharmacy_id=pharmacy.id,
            facts={"ods_code": pharmacy.ods_code, "open_weekdays": pharmacy.open_weekdays},
        )
        uow.commit()
        return load_visible(uow.session, SYSTEM, pharmacy.id)


def get_pharmacy(uow: UnitOfWork, *, actor: Actor, pharmacy_id: UUID) -> Pharmacy:
    with uow:
        return load_visible(uow.session, actor, pharmacy_id)


def list_pharmacies(uow: UnitOfWork, *, actor: Actor) -> list[Pharmacy]:
    with uow:
        query = select(Pharmacy).options(selectinload(Pharmacy.closures)).order_by(Pharmacy.name)
        if actor.role in (Role.PRESCRIBER, Role.KEY_WORKER):
            return []  # before the scope: they have no pharmacy, which reads as "every one"
        scope = pharmacy_scope(actor)
        if scope is not None:
            query = query.where(Pharmacy.id == scope)
        return list(uow.session.scalars(query))


def set_opening_days(
    uow: UnitOfWork, *, actor: Actor, pharmacy_id: UUID, open_weekdays: Sequence[int], now: datetime
) -> Pharmacy:
    """Change the usual opening days (administrators). Schedules already written are not
    re-planned: a day the pharmacy stops opening is handled as a closure would be."""
    require_role(actor, {Role.ADMIN}, "change opening days")
    with uow:
        pharmacy = load_visible(uow.session, actor, pharmacy_id)
        before = list(pharmacy.open_weekdays)
        pharmacy.open_weekdays = sorted(set(open_weekdays))
        audit_service.record(
            uow.session,
            actor,
            "pharmacy.opening_days_changed",
            entity="pharmacy",
            entity_id=pharmacy.id,
            at=now,
            pharmacy_id=pharmacy.id,
            facts={"before": before, "after": pharmacy.open_weekdays},
        )
        uow.commit()
        return load_visible(uow.session, SYSTEM, pharmacy_id)


def record_closure(
    session: Session,
    *,
    actor: Actor,
    pharmacy: Pharmacy,
    closed_on: date,
    reason: str,
    now: datetime,
) -> Closure:
    """Write a closure and its audit line in the caller's transaction (never commits).

    The use case that closes a pharmacy also re-plans the schedules around the day
    (`app.intake.closures.add_closure`), in one transaction; the closure itself is
    written here, by the capability that owns the table.
    """
    if session.scalar(
        select(Closure).where(Closure.pharmacy_id == pharmacy.id, Closure.closed_on == closed_on)
    ):
        raise Conflict(f"The pharmacy is already closed on {closed_on}", code="duplicate_closure")
    closure = Closure(
        pharmacy_id=pharmacy.id,
        closed_on=closed_on,
        reason=reason,
        created_at=now,
        created_by_id=actor.id,
    )
    session.add(closure)
    session.flush()
    audit_service.record(
        session,
        actor,
        "pharmacy.closure_added",
        entity="pharmacy",
        entity_id=pharmacy.id,
        at=now,
        pharmacy_id=pharmacy.id,
        facts={"closed_on": closed_on},
    )
    return closure


def delete_closure(
    session: Session,
    *,
    actor: Actor,
    pharmacy: Pharmacy,
    closed_on: date,
    reason: str,
    now: datetime,
) -> None:
    """Remove a future closure and audit why, in the caller's transaction (never commits)."""
    closure = session.scalar(
        select(Closure).where(Closure.pharmacy_id == pharmacy.id, Closure.closed_on == closed_on)
    )
    if closure is None:
        raise InvalidInput("date", "not_closed", "the pharmacy is not closed on that date")
    session.delete(closure)
    session.flush()
    audit_service.record(
        session,
        actor,
        "pharmacy.closure_removed",
        entity="pharmacy",
        entity_id=pharmacy.id,
        at=now,
        pharmacy_id=pharmacy.id,
        facts={"closed_on": closed_on, "reason": closure.reason, "why_removed": reason},
    )
