"""Lockable boxes seen: the confirmation a take-home into a home with young children needs.

A box confirmation belongs to the household's safety record (households own the table); the
counter reads the latest one when it decides (`app/dosing/facts.py`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.config import PolicySettings
from app.db import UnitOfWork, retrying
from app.errors import InvalidInput
from app.households.models import BoxConfirmation
from app.patients import repository as patients_repository

# Who may record a box as seen: at the counter, or a key worker on a home visit.
BOX_RECORDERS = {Role.PHARMACIST, Role.TECHNICIAN, Role.KEY_WORKER}


@retrying
def record_box(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    seen_on: date,
    method: str,
    note: str,
    today: date,
    policy: PolicySettings,
    now: datetime,
) -> BoxConfirmation:
    """A lockable box was seen; take-homes need one while young children live there."""
    require_role(actor, BOX_RECORDERS, "record lockable boxes")
    if seen_on > today:
        raise InvalidInput("seen_on", "not_in_future", "cannot be in the future")
    if seen_on < today - timedelta(days=policy.box_validity_days):
        raise InvalidInput(
            "seen_on",
            "within_validity",
            f"a box seen more than {policy.box_validity_days} days ago no longer counts",
        )
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id)
        box = BoxConfirmation(
            patient_id=patient.id,
            household_id=patient.household_id,
            seen_on=seen_on,
            valid_until=seen_on + timedelta(days=policy.box_validity_days),
            method=method,
            seen_by_id=actor.id,
            note=note,
            created_at=now,
        )
        session.add(box)
        session.flush()
        audit_service.record(
            session,
            actor,
            "box.confirmed",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"method": method, "valid_until": box.valid_until},
        )
        uow.commit()
        return box
