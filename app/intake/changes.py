"""Changes to a prescription in force: the prescriber's release after missed doses, and
cancellation, which gives up the uncollected days."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role, require_safety_act
from app.auth.roles import Role
from app.db import UnitOfWork
from app.dosing import ledger
from app.dosing.models import Release
from app.errors import Conflict
from app.prescriptions import repository
from app.prescriptions.models import Prescription, Status
from app.safeguarding import acknowledgement


def cancel(
    uow: UnitOfWork, *, actor: Actor, prescription_id: UUID, reason: str, today: date, now: datetime
) -> Prescription:
    """Stop a prescription: its uncollected days from today on are removed from the schedule."""
    require_role(actor, {Role.PHARMACIST, Role.PRESCRIBER, Role.ADMIN}, "cancel prescriptions")
    with uow:
        session = uow.session
        prescription = repository.load_visible(session, actor, prescription_id, for_update=True)
        if prescription.status in (Status.CANCELLED, Status.COMPLETED):
            raise Conflict(
                f"The prescription is already {prescription.status}", code="not_cancellable"
            )
        removed = ledger.remove_due_days(session, prescription.id, collect_from=today)
        prescription.status = Status.CANCELLED
        prescription.cancelled_by_id = actor.id
        prescription.cancelled_at = now
        prescription.cancel_reason = reason
        audit_service.record(
            session,
            actor,
            "prescription.cancelled",
            entity="prescription",
            entity_id=prescription.id,
            at=now,
            pharmacy_id=prescription.pharmacy_id,
            facts={"days_removed": removed},
        )
        uow.commit()
        return prescription


def release(
    uow: UnitOfWork, *, actor: Actor, prescription_id: UUID, note: str, today: date, now: datetime
) -> Release:
    """The prescriber's review after missed doses: the counter may supply again."""
    require_safety_act(actor, "release")
    with uow:
        session = uow.session
        prescription = repository.load_visible(session, actor, prescription_id)
        if prescription.status != Status.ACTIVE:
            raise Conflict(f"The prescription is {prescription.status}", code="not_active")
        row, new = ledger.record_release(
            session,
            prescription=prescription,
            released_by_id=actor.id,
            note=note,
            today=today,
            now=now,
        )
        if not new:  # a double click or a retried request: one review, not two
            return row
        # The review deals with the cause of the threshold alerts: they stop escalating.
        acknowledgement.resolve_for_patient(
            session,
            actor=actor,
            patient_id=prescription.patient_id,
            kinds=("missed_threshold_reached",),
            why=f"The prescriber's review was recorded: {note}",
            now=now,
        )
        audit_service.record(
            session,
            actor,
            "prescription.released",
            entity="prescription",
            entity_id=prescription.id,
            at=now,
            pharmacy_id=prescription.pharmacy_id,
            facts={"release_id": row.id},
        )
        uow.commit()
        return row
