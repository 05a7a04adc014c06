"""The patients table's own queries and who may see a patient (their pharmacy, or a clinician who
holds them): decided here once for every read, so a use case never re-states the tenancy check.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.actor import SYSTEM, Actor
from app.auth.policy import may_see_patient
from app.errors import NotFound
from app.patients.models import GuestGrant, GuestGrantEnd, Patient

# Built once: a statement object reused keeps its cache key, which SQLAlchemy would otherwise
# rebuild on every call (issue 21: a third of a query's cost at the counter).
_BY_ID = select(Patient).where(Patient.id == bindparam("patient_id"))
_BY_ID_LOCKED = _BY_ID.with_for_update()


def load_visible(
    session: Session, actor: Actor, patient_id: UUID, *, for_update: bool = False
) -> Patient:
    query = _BY_ID_LOCKED if for_update else _BY_ID
    patient = session.scalar(query, {"patient_id": patient_id})
    if patient is None or not (
        actor is SYSTEM
        or may_see_patient(
            actor,
            pharmacy_id=patient.pharmacy_id,
            key_worker_id=patient.key_worker_id,
            prescriber_id=patient.prescriber_id,
        )
    ):
        raise NotFound("patient", patient_id)
    return patient


def by_id(session: Session, patient_id: UUID) -> Patient | None:
    """One patient, with no visibility check: for a record the caller may already see that
    names them (an alert, a prescription)."""
    return session.get(Patient, patient_id)


def by_ids(session: Session, patient_ids: set[UUID]) -> list[Patient]:
    """The patients named, with no visibility check: for records the caller may already see
    that name them (the alerts in an inbox)."""
    if not patient_ids:
        return []
    return list(session.scalars(select(Patient).where(Patient.id.in_(patient_ids))))


def held_where_caller_cannot_see(session: Session, actor: Actor, nhs: str) -> Patient | None:
    """The patient holding this NHS number, if the caller may not see them."""
    existing = session.scalar(select(Patient).where(Patient.nhs_number == nhs))
    if existing is None or actor is SYSTEM or visible_to(actor, existing):
        return None
    return existing


def visible_to(actor: Actor, patient: Patient) -> bool:
    return may_see_patient(
        actor,
        pharmacy_id=patient.pharmacy_id,
        key_worker_id=patient.key_worker_id,
        prescriber_id=patient.prescriber_id,
    )


def by_nhs_number(session: Session, nhs: str) -> Patient | None:
    """The patient holding this (normalised) NHS number, with no visibility check: for the
    last-dose look-up, which decides its own scope (`app.lookup.service`) and answers a patient
    outside it exactly as one that does not exist."""
    return session.scalar(select(Patient).where(Patient.nhs_number == nhs))


def live_grant(
    session: Session, patient_id: UUID, guest_pharmacy_id: UUID, today: date
) -> GuestGrant | None:
    """The guest grant that lets `guest_pharmacy_id` dose the patient today, if any: begun,
    not past its last day, not ended early."""
    return session.scalar(
        select(GuestGrant)
        .where(
            GuestGrant.patient_id == patient_id,
            GuestGrant.guest_pharmacy_id == guest_pharmacy_id,
            GuestGrant.from_date <= today,
            GuestGrant.to_date >= today,
            ~select(GuestGrantEnd.id).where(GuestGrantEnd.grant_id == GuestGrant.id).exists(),
        )
        .order_by(GuestGrant.granted_at.desc())
        .limit(1)
    )


def load_for_counter(
    session: Session, actor: Actor, patient_id: UUID, today: date, *, for_update: bool = False
) -> Patient:
    """The patient at the caller's counter: one the caller may see, or one a live guest grant
    lets the caller's pharmacy dose today. The grant opens the counter only (identity and the
    day's decision, with the household facts it needs); every other read still goes through
    `load_visible`, so a guest pharmacy sees nothing else of the record."""
    try:
        return load_visible(session, actor, patient_id, for_update=for_update)
    except NotFound:
        if (
            actor.pharmacy_id is None
            or live_grant(session, patient_id, actor.pharmacy_id, today) is None
        ):
            raise
    patient = session.scalar(_BY_ID_LOCKED if for_update else _BY_ID, {"patient_id": patient_id})
    if patient is None:
        raise NotFound("patient", patient_id)
    return patient


def guest_visible(session: Session, actor: Actor, patient: Patient, today: date) -> bool:
    """The caller's pharmacy is a guest dosing this patient today."""
    return (
        actor.pharmacy_id is not None
        and live_grant(session, patient.id, actor.pharmacy_id, today) is not None
    )


def in_household(session: Session, household_id: UUID) -> list[Patient]:
    """The patients living in a household, with no visibility check (the caller may see the
    household, or counts them only)."""
    return list(session.scalars(select(Patient).where(Patient.household_id == household_id)))


def open_grants(session: Session, patient_id: UUID, today: date) -> list[GuestGrant]:
    """The patient's guest grants not over and not ended: under way, or arranged for later."""
    return list(
        session.scalars(
            select(GuestGrant).where(
                GuestGrant.patient_id == patient_id,
                GuestGrant.to_date >= today,
                ~select(GuestGrantEnd.id).where(GuestGrantEnd.grant_id == GuestGrant.id).exists(),
            )
        )
    )
