"""Keeping schedules right when the pharmacy's calendar changes: a closure added or removed
re-plans the days still due, and an opening-day change is first shown what it would strand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.config import PolicySettings
from app.db import UnitOfWork
from app.dosing import ledger
from app.errors import Conflict, InvalidInput
from app.intake.context import raise_closed_day_alerts
from app.patients.models import Patient
from app.pharmacies import repository as pharmacies_repository
from app.pharmacies import service as pharmacies_service
from app.prescriptions import repository
from app.prescriptions import schedule as rx_schedule
from app.prescriptions.models import Prescription, Status


def recalculate_for_closure(
    session: Session,
    *,
    actor: Actor,
    pharmacy_id: UUID,
    closed_on: date,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> Replanned:
    """Re-plan the uncollected days of active prescriptions around a closure added or removed.

    Only days still due are moved; a recorded dose never changes. Returns how many days moved
    and how many alerts asked a prescriber to amend."""
    calendar = repository.calendar_for(session, pharmacy_id)
    affected = list(
        session.scalars(
            select(Prescription).where(
                Prescription.pharmacy_id == pharmacy_id,
                Prescription.status == Status.ACTIVE,
                Prescription.start_on <= closed_on,
                Prescription.end_on >= closed_on,
            )
        )
    )
    moved = alerts = 0
    for prescription in affected:
        planned, problems = rx_schedule.generate_schedule(
            repository.draft_of(prescription), calendar
        )
        by_date = {d.dose_date: d for d in planned}
        # A day whose prior open day has passed is never moved into the past: it needs the
        # prescriber's amendment.
        changes, no_day_left = ledger.replan_due_days(
            session, prescription.id, by_date, today=today, held_at=pharmacy_id
        )
        moved += len(changes)
        patient = session.get(Patient, prescription.patient_id)
        alerts += raise_closed_day_alerts(
            session,
            problems,
            actor=actor,
            prescription=prescription,
            household_id=patient.household_id if patient else None,
            today=today,
            now=now,
            policy=policy,
            no_day_left=len(no_day_left),
        )
        if changes or problems or no_day_left:
            audit_service.record(
                session,
                actor,
                "prescription.schedule_recalculated",
                entity="prescription",
                entity_id=prescription.id,
                at=now,
                pharmacy_id=pharmacy_id,
                facts={
                    "closure": closed_on,
                    "moved": changes,
                    "needs_amendment": len(problems) + len(no_day_left),
                },
            )
    return Replanned(moved, alerts)


@dataclass(frozen=True, slots=True)
class Replanned:
    """What a closure change did to the schedules: days moved, amendment alerts raised."""

    moved_days: int
    alerts_raised: int


def add_closure(
    uow: UnitOfWork,
    *,
    actor: Actor,
    pharmacy_id: UUID,
    closed_on: date,
    reason: str,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> Replanned:
    """Close the pharmacy on a date and re-plan every affected schedule in the same step."""
    require_role(actor, {Role.PHARMACIST, Role.ADMIN}, "add closures")
    if closed_on < today:
        raise InvalidInput("date", "not_in_past", "a closure cannot be added for a past date")
    with uow:
        session = uow.session
        pharmacy = pharmacies_repository.load_visible(session, actor, pharmacy_id)
        guests = ledger.guest_days_on(session, pharmacy.id, closed_on)
        if guests:
            # Their days follow their home pharmacy's calendar and direction, not this one's.
            raise Conflict(
                f"{guests} day(s) of guest patients (dosed here for other pharmacies) are "
                "collected here that day: ask their home pharmacies to end or move the guest "
                "dosing first (the guest patients page lists them)",
                code="guest_patients_due",
            )
        pharmacies_service.record_closure(
            session, actor=actor, pharmacy=pharmacy, closed_on=closed_on, reason=reason, now=now
        )
        replanned = recalculate_for_closure(
            session,
            actor=actor,
            pharmacy_id=pharmacy.id,
            closed_on=closed_on,
            today=today,
            now=now,
            policy=policy,
        )
        uow.commit()
        return replanned


def remove_closure(
    uow: UnitOfWork,
    *,
    actor: Actor,
    pharmacy_id: UUID,
    closed_on: date,
    reason: str,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> Replanned:
    """Open again on a day closed by mistake (or no longer closed) and re-plan what it moved.

    Past closures stay: the days they shaped have been dispensed. The removal is audited with
    its reason; doses already handed over early are never changed."""
    require_role(actor, {Role.PHARMACIST, Role.ADMIN}, "remove closures")
    if closed_on < today:
        raise InvalidInput("date", "not_in_past", "a past closure cannot be removed")
    with uow:
        session = uow.session
        pharmacy = pharmacies_repository.load_visible(session, actor, pharmacy_id)
        pharmacies_service.delete_closure(
            session, actor=actor, pharmacy=pharmacy, closed_on=closed_on, reason=reason, now=now
        )
        replanned = recalculate_for_closure(
            session,
            actor=actor,
            pharmacy_id=pharmacy.id,
            closed_on=closed_on,
            today=today,
            now=now,
            policy=policy,
        )
        uow.commit()
        return replanned


@dataclass(frozen=True, slots=True)
class AffectedSchedule:
    """A prescription with doses still to collect on weekdays the pharmacy would stop opening."""

    prescription_id: UUID
    patient: str
    dates: list[date]


def schedules_on_weekdays(
    uow: UnitOfWork, *, actor: Actor, pharmacy_id: UUID, weekdays: set[int], today: date
) -> list[AffectedSchedule]:
    """Which schedules collect on these weekdays from today: an opening-day change that closes
    them leaves those doses on days nobody is there to hand them over."""
    if not weekdays:
        return []
    with uow:
        session = uow.session
        pharmacy = pharmacies_repository.load_visible(session, actor, pharmacy_id)
        found: dict[UUID, AffectedSchedule] = {}
        for row, given, family in ledger.due_from(session, pharmacy.id, today):
            if row.collect_on.weekday() not in weekdays:
                continue
            entry = found.setdefault(
                row.prescription_id, AffectedSchedule(row.prescription_id, f"{given} {family}", [])
            )
            if row.collect_on not in entry.dates:
                entry.dates.append(row.collect_on)
        return list(found.values())
