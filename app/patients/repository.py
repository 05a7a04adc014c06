"""The patients table's own queries and who may see a patient (their pharmacy, or a clinician who
holds them): decided here once for every read, so a use case never re-states the tenancy check.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import SYSTEM, Actor
from app.auth.policy import may_see_patient
from app.errors import NotFound
from app.patients.models import Patient


def load_visible(
    session: Session, actor: Actor, patient_id: UUID, *, for_update: bool = False
) -> Patient:
    query = select(Patient).where(Patient.id == patient_id)
    if for_update:
        query = query.with_for_update()
    patient = session.scalar(query)
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
