"""The second pharmacist's check: the transcription is confirmed and its schedule becomes
the ledger, superseding what it replaces, in one transaction."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.config import PolicySettings
from app.contacts.models import Contact
from app.db import UnitOfWork
from app.dosing import household as dosing_household
from app.dosing import ledger
from app.dosing.models import DoseState
from app.errors import Conflict, NotFound, PermissionDenied, Refused
from app.intake import guests
from app.intake.context import alert_if_lapsed, findings, intake_context, intake_policy
from app.patients import repository as patients_repository
from app.prescriptions import intake_terms, repository, rules
from app.prescriptions.models import Prescription, Status
from app.prescriptions.products import PRODUCTS
from app.safeguarding import service as safeguarding_service


def verify(
    uow: UnitOfWork,
    *,
    actor: Actor,
    prescription_id: UUID,
    policy: PolicySettings,
    today: date,
    now: datetime,
    acknowledged: frozenset[str] = frozenset(),
) -> Prescription:
    """A second pharmacist confirms the transcription; the schedule becomes the ledger.

    The intake rules run again (the 28-day window may have closed since), any superseded
    prescription gives up its uncollected days from this one's start, and the instalment days
    are written, all in one transaction.
    """
    require_role(actor, {Role.PHARMACIST}, "check prescriptions")
    with uow:
        session = uow.session
        prescription = repository.load_visible(session, actor, prescription_id, for_update=True)
        if prescription.pharmacy_id != actor.pharmacy_id:
            raise NotFound("prescription", prescription_id)
        if prescription.status != Status.PENDING_CHECK:
            raise Conflict(
                f"The prescription is {prescription.status}, not waiting for a check",
                code="not_pending_check",
            )
        if prescription.entered_by_id == actor.id:
            raise PermissionDenied(
                "A different pharmacist must check the transcription", code="second_person_required"
            )
        product = PRODUCTS.get(prescription.product)
        if not prescription.prescriber_address:  # entered before addresses were kept
            contact = session.get(Contact, prescription.prescriber_id)
            prescription.prescriber_address = contact.address if contact else None
        decision = rules.check_intake(
            repository.draft_of(prescription),
            intake_context(
                session,
                patient=patients_repository.load_visible(session, actor, prescription.patient_id),
                product=product,
                today=today,
                exclude=prescription.id,
            ),
            repository.calendar_for(session, prescription.pharmacy_id),
            intake_policy(policy),
        )
        if not decision.accepted:
            raise Refused(
                "The prescription can no longer be accepted",
                code="prescription_refused",
                blocks=findings(decision.blocks),
                warnings=findings(decision.warnings),
            )
        unread = [
            w
            for w in decision.warnings
            if w.code in intake_terms.MUST_ACKNOWLEDGE and str(w.code) not in acknowledged
        ]
        if unread:
            raise Refused(
                "Acknowledge each warning about the product before the prescription goes live",
                code="warnings_not_acknowledged",
                blocks=[],
                warnings=findings(unread),
            )
        patient = patients_repository.load_visible(session, actor, prescription.patient_id)
        for old in repository.overlapping(
            session,
            patient_id=prescription.patient_id,
            product=prescription.product,
            start_on=prescription.start_on,
            end_on=prescription.end_on,
            exclude=prescription.id,
        ):
            if old.id != prescription.supersedes_id:
                raise Conflict(
                    "Another live prescription overlaps this one",
                    code="overlapping_prescription",
                    overlapping=[str(old.id)],
                )
            recorded = ledger.first_recorded_from(session, old.id, prescription.start_on)
            if recorded is not None:
                raise Conflict(
                    f"A dose for {recorded} was already recorded under the "
                    "prescription this replaces; start the new one after it",
                    code="overlap_already_recorded",
                )
            removed = ledger.remove_due_days(session, old.id, dose_from=prescription.start_on)
            end_on_was = old.end_on
            if old.start_on >= prescription.start_on:
                old.status = Status.CANCELLED
                old.cancelled_at = now
                old.cancelled_by_id = actor.id
                old.cancel_reason = "superseded"
            else:
                # Shortened: it no longer covers (or overlaps) anything from the new start.
                old.end_on = min(old.end_on, prescription.start_on - timedelta(days=1))
            audit_service.record(
                session,
                actor,
                "prescription.superseded",
                entity="prescription",
                entity_id=old.id,
                at=now,
                pharmacy_id=old.pharmacy_id,
                facts={
                    "by": prescription.id,
                    "from": prescription.start_on,
                    "days_removed": removed,
                    "end_on_was": end_on_was,
                },
            )
        # Days whose collection was before the check could never have been supplied: they are
        # written as not dispensed, and count as days without a dose (DESIGN §3).
        rows = ledger.plan_days(
            session, prescription, patient.household_id, decision.schedule, today=today, now=now
        )
        skipped = sum(1 for r in rows if r.state == DoseState.NOT_DISPENSED)
        session.flush()
        guests.keep_granted_days_at_guest(session, prescription, today)
        prescription.status = Status.ACTIVE
        prescription.verified_by_id = actor.id
        prescription.verified_at = now
        session.flush()
        if skipped:
            alert_if_lapsed(
                session,
                actor=actor,
                patient=patient,
                prescription=prescription,
                today=today,
                now=now,
                policy=policy,
            )
        # DESIGN §3: the household rules run on prescription intake, not only at a handover.
        for event in dosing_household.household_events(session, patient, today, policy):
            safeguarding_service.raise_alert(
                session,
                event,
                actor=actor,
                pharmacy_id=prescription.pharmacy_id,
                patient_id=patient.id,
                household_id=patient.household_id,
                day=today,
                now=now,
                routing=policy.alert_routing,
            )
        audit_service.record(
            session,
            actor,
            "prescription.verified",
            entity="prescription",
            entity_id=prescription.id,
            at=now,
            pharmacy_id=prescription.pharmacy_id,
            facts={"days": len(rows) - skipped, "days_before_check": skipped},
        )
        uow.commit()
        return prescription
