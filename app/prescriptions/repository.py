"""The prescriptions table's own queries: which prescription a caller may see, the pharmacy
calendar a schedule is generated against, and the draft the intake rules read back from a row.

Visibility is decided here once (through the patient's), so every use case that loads a
prescription applies the same tenancy filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import kit
from app.actor import Actor
from app.errors import NotFound
from app.patients import repository as patients_repository
from app.pharmacies.models import Closure, Pharmacy
from app.prescriptions import dose_plan, intake_terms
from app.prescriptions.models import Prescription, Status, SuspensionChange, SuspensionEvent
from app.prescriptions.products import same_medicine

# A prescription that still governs days: waiting for its check, in force, or paused.
LIVE = (Status.PENDING_CHECK, Status.ACTIVE, Status.SUSPENDED)


def calendar_for(session: Session, pharmacy_id: UUID) -> intake_terms.Calendar:
    pharmacy = session.get(Pharmacy, pharmacy_id)
    assert pharmacy is not None
    closures = session.scalars(select(Closure.closed_on).where(Closure.pharmacy_id == pharmacy_id))
    return intake_terms.Calendar(
        open_weekdays=frozenset(pharmacy.open_weekdays), closures=frozenset(closures)
    )


def draft_of(p: Prescription) -> intake_terms.PrescriptionDraft:
    return intake_terms.PrescriptionDraft(
        product_code=p.product,
        daily_dose_mg=p.daily_dose_mg,
        form_type=p.form_type,
        written_on=p.written_on,
        start_on=p.start_on,
        end_on=p.end_on,
        total_quantity=p.total_quantity,
        total_quantity_words=p.total_quantity_words,
        supervised_days=frozenset(p.supervised_days),
        collection_days=frozenset(p.collection_days),
        wording=intake_terms.Wording(**p.wording),
        direction_text=p.direction_text,
        prescriber_address=p.prescriber_address,
        dose_parts=dose_plan.parts_of(p.dose_parts),
        steps=dose_plan.steps_of(p.dose_steps),
    )


def load_visible(
    session: Session, actor: Actor, prescription_id: UUID, *, for_update: bool = False
) -> Prescription:
    query = select(Prescription).where(Prescription.id == prescription_id)
    if for_update:
        query = query.with_for_update()
    prescription = session.scalar(query)
    if prescription is None:
        raise NotFound("prescription", prescription_id)
    try:
        patients_repository.load_visible(session, actor, prescription.patient_id)
    except NotFound:
        raise NotFound("prescription", prescription_id) from None
    return prescription


def overlapping(
    session: Session,
    *,
    patient_id: UUID,
    product: str,
    start_on: date,
    end_on: date,
    exclude: UUID | None = None,
) -> list[Prescription]:
    query = select(Prescription).where(
        Prescription.patient_id == patient_id,
        Prescription.product.in_(sorted(same_medicine(product))),
        Prescription.status.in_(LIVE),
        Prescription.start_on <= end_on,
        Prescription.end_on >= start_on,
    )
    if exclude is not None:
        query = query.where(Prescription.id != exclude)
    return list(session.scalars(query))


def suspensions(session: Session, prescription_id: UUID) -> list[SuspensionEvent]:
    """Every suspension and resumption of a prescription, oldest first."""
    return list(
        session.scalars(
            select(SuspensionEvent)
            .where(SuspensionEvent.prescription_id == prescription_id)
            .order_by(SuspensionEvent.recorded_at, SuspensionEvent.id)
        )
    )


def patient_suspensions(session: Session, patient_id: UUID) -> list[SuspensionEvent]:
    """Every suspension and resumption of any of the patient's prescriptions, oldest first
    (through the prescriptions, so both indexes by prescription serve it)."""
    theirs = select(Prescription.id).where(Prescription.patient_id == patient_id)
    return list(
        session.scalars(
            select(SuspensionEvent)
            .where(SuspensionEvent.prescription_id.in_(theirs))
            .order_by(SuspensionEvent.recorded_at, SuspensionEvent.id)
        )
    )


def current_suspension(session: Session, prescription_id: UUID) -> SuspensionEvent | None:
    """The suspension in force: the latest event, if it is a suspension."""
    return current_suspensions(session, [prescription_id]).get(prescription_id)


def current_suspensions(
    session: Session, prescription_ids: Iterable[UUID]
) -> dict[UUID, SuspensionEvent]:
    """The suspension in force for each of these prescriptions that has one (its latest event
    is a suspension), in one query per chunk of ids: a prescription has a handful of events."""
    latest: dict[UUID, SuspensionEvent] = {}
    for batch in kit.chunks(sorted(set(prescription_ids))):
        for event in session.scalars(
            select(SuspensionEvent)
            .where(SuspensionEvent.prescription_id.in_(batch))
            .order_by(SuspensionEvent.recorded_at, SuspensionEvent.id)
        ):
            latest[event.prescription_id] = event
    return {pid: e for pid, e in latest.items() if e.change == SuspensionChange.SUSPENDED}
