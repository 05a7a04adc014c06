"""Suspending a prescription (a hospital admission, custody, a holiday with doses elsewhere, the
prescriber's instruction) and resuming it.

A suspended day is neither due nor missed: its ledger row is given up, so close of day never
marks it missed and never alerts; the counter refuses supply while the prescription is
suspended. On resume the "last dose taken" rule applies (DESIGN §3, issue 19): a dose the
hospital, prison or other service confirms (date and source) is recorded as the last dose taken
elsewhere and dosing continues; without one, the days since the last dose taken here count
toward the loss-of-tolerance threshold, the prescriber is told at once if they reach it, and the
counter blocks until the prescriber's review. Both steps are append-only rows with who, when
and why (`SuspensionEvent`).

One prescription (`suspend`, `resume`) or every one of a patient's at once (`suspend_patient`,
`resume_patient`: a hospital admission stops them all) go through the same steps
(`_suspend_all`, `_resume_all`), inside one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
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
from app.dosing import records as dosing_records
from app.dosing.models import LastDoseSource
from app.errors import Conflict, InvalidInput
from app.intake import guests
from app.intake.context import alert_if_lapsed
from app.patients import repository as patients_repository
from app.patients.models import Patient
from app.prescriptions import repository
from app.prescriptions import schedule as rx_schedule
from app.prescriptions.models import (
    Prescription,
    Status,
    SuspensionChange,
    SuspensionEvent,
    SuspensionReason,
)
from app.prescriptions.products import PRODUCTS

# Who may suspend or resume: the pharmacist who hears of the admission, or the prescriber.
SUSPENDERS = {Role.PHARMACIST, Role.PRESCRIBER}
# Who can confirm a dose given while the prescription was suspended.
CONFIRMING_SOURCES = (
    LastDoseSource.HOSPITAL,
    LastDoseSource.CUSTODY,
    LastDoseSource.PREVIOUS_PHARMACY,
    LastDoseSource.PRESCRIBER,
)


def suspend(
    uow: UnitOfWork,
    *,
    actor: Actor,
    prescription_id: UUID,
    from_date: date,
    reason: str,
    note: str,
    today: date,
    now: datetime,
) -> Prescription:
    """Suspend from `from_date` (today, or a day already past that nobody supplied): every day
    still due from then on is given up, so none is due and none can be marked missed."""
    _check_suspension(actor, from_date=from_date, reason=reason, today=today)
    with uow:
        session = uow.session
        prescription = repository.load_visible(session, actor, prescription_id, for_update=True)
        if prescription.status != Status.ACTIVE:
            raise Conflict(
                f"The prescription is {prescription.status}; only an active one can be suspended",
                code="not_active",
            )
        if not prescription.start_on <= from_date <= prescription.end_on:
            raise InvalidInput(
                "from_date",
                "within_prescription",
                f"must be within the prescription ({prescription.start_on} to "
                f"{prescription.end_on})",
            )
        _suspend_all(
            session, actor, [prescription], from_date=from_date, reason=reason, note=note, now=now
        )
        uow.commit()
        return prescription


def suspend_patient(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    from_date: date,
    reason: str,
    note: str,
    today: date,
    now: datetime,
) -> list[Prescription]:
    """Suspend every active prescription of the patient that has not ended by `from_date`, in
    one transaction (one starting later, already checked, gives up all its days). Refused if
    there is none."""
    _check_suspension(actor, from_date=from_date, reason=reason, today=today)
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id)
        prescriptions = _patients(session, patient, Status.ACTIVE, ending_from=from_date)
        if not prescriptions:
            raise Conflict(
                "The patient has no active prescription to suspend", code="no_active_prescription"
            )
        _suspend_all(
            session, actor, prescriptions, from_date=from_date, reason=reason, note=note, now=now
        )
        uow.commit()
        return prescriptions


def resume(
    uow: UnitOfWork,
    *,
    actor: Actor,
    prescription_id: UUID,
    last_dose_on: date | None,
    last_dose_source: str | None,
    note: str,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> Prescription:
    """Resume today: the days still ahead are planned again (collectable from today), and what
    the other service confirmed, if anything, becomes the last dose taken elsewhere."""
    _check_resumption(actor, last_dose_on=last_dose_on, last_dose_source=last_dose_source)
    with uow:
        session = uow.session
        prescription = repository.load_visible(session, actor, prescription_id, for_update=True)
        if prescription.status != Status.SUSPENDED:
            raise Conflict(
                f"The prescription is {prescription.status}, not suspended", code="not_suspended"
            )
        patient = patients_repository.load_visible(session, actor, prescription.patient_id)
        _resume_all(
            session,
            actor,
            patient,
            [prescription],
            last_dose_on=last_dose_on,
            last_dose_source=last_dose_source,
            note=note,
            today=today,
            now=now,
            policy=policy,
        )
        uow.commit()
        return prescription


def resume_patient(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    last_dose_on: date | None,
    last_dose_source: str | None,
    note: str,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> list[Prescription]:
    """Resume every suspended prescription of the patient today, in one transaction, with the
    same confirmation of the last dose given elsewhere (recorded once per drug)."""
    _check_resumption(actor, last_dose_on=last_dose_on, last_dose_source=last_dose_source)
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id)
        prescriptions = _patients(session, patient, Status.SUSPENDED)
        if not prescriptions:
            raise Conflict("The patient has no suspended prescription", code="not_suspended")
        _resume_all(
            session,
            actor,
            patient,
            prescriptions,
            last_dose_on=last_dose_on,
            last_dose_source=last_dose_source,
            note=note,
            today=today,
            now=now,
            policy=policy,
        )
        uow.commit()
        return prescriptions


def _check_suspension(actor: Actor, *, from_date: date, reason: str, today: date) -> None:
    require_role(actor, SUSPENDERS, "suspend prescriptions")
    if reason not in set(SuspensionReason):
        raise InvalidInput("reason", "known_reason", "is not a known reason to suspend")
    if from_date > today:
        raise InvalidInput(
            "from_date",
            "not_in_future",
            "must be today or a day already past (a planned absence is recorded when it begins)",
        )


def _check_resumption(
    actor: Actor, *, last_dose_on: date | None, last_dose_source: str | None
) -> None:
    require_role(actor, SUSPENDERS, "resume prescriptions")
    if last_dose_on is not None and last_dose_source is None:
        raise InvalidInput(
            "last_dose_source", "required", "is required with the date of the last dose given"
        )
    if last_dose_source is not None and last_dose_on is None:
        raise InvalidInput("last_dose_on", "required", "is required with who confirmed it")
    if last_dose_source is not None and last_dose_source not in CONFIRMING_SOURCES:
        raise InvalidInput(
            "last_dose_source",
            "known_source",
            "must be the hospital, custody, another pharmacy or the prescriber",
        )


def _patients(
    session: Session, patient: Patient, status: Status, *, ending_from: date | None = None
) -> list[Prescription]:
    """The patient's prescriptions in `status` (not ended before `ending_from`), locked in id
    order, as the single-prescription steps lock theirs."""
    query = select(Prescription).where(
        Prescription.patient_id == patient.id, Prescription.status == status
    )
    if ending_from is not None:
        query = query.where(Prescription.end_on >= ending_from)
    return list(session.scalars(query.order_by(Prescription.id).with_for_update()))


def _suspend_all(
    session: Session,
    actor: Actor,
    prescriptions: Sequence[Prescription],
    *,
    from_date: date,
    reason: str,
    note: str,
    now: datetime,
) -> None:
    """Give up each prescription's days still due from `from_date`, mark it suspended and
    record why, in the caller's transaction."""
    for prescription in prescriptions:
        removed = ledger.remove_due_days(session, prescription.id, dose_from=from_date)
        prescription.status = Status.SUSPENDED
        session.add(
            SuspensionEvent(
                prescription_id=prescription.id,
                patient_id=prescription.patient_id,
                pharmacy_id=prescription.pharmacy_id,
                change=SuspensionChange.SUSPENDED,
                effective_on=from_date,
                reason=reason,
                note=note.strip(),
                days_removed=removed,
                recorded_by_id=actor.id,
                recorded_at=now,
            )
        )
        audit_service.record(
            session,
            actor,
            "prescription.suspended",
            entity="prescription",
            entity_id=prescription.id,
            at=now,
            pharmacy_id=prescription.pharmacy_id,
            facts={"from": from_date, "reason": reason, "days_removed": removed},
        )


def _resume_all(
    session: Session,
    actor: Actor,
    patient: Patient,
    prescriptions: Sequence[Prescription],
    *,
    last_dose_on: date | None,
    last_dose_source: str | None,
    note: str,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> None:
    """Resume each suspended prescription today, in the caller's transaction: the confirmed
    last dose (once per drug), the days ahead planned again, the resumption recorded, and the
    prescriber told now if the days without a dose have reached the threshold."""
    suspended = repository.current_suspensions(session, [p.id for p in prescriptions])
    for prescription in prescriptions:
        event = suspended.get(prescription.id)
        if event is None:  # suspended before suspensions were recorded
            raise Conflict("No suspension is recorded for this prescription", code="not_suspended")
        if last_dose_on is not None and last_dose_on < event.effective_on - timedelta(days=1):
            raise InvalidInput(
                "last_dose_on",
                "during_suspension",
                "is before the suspension began: record a dose given while it was suspended",
            )
    if last_dose_on is not None and last_dose_source is not None:
        confirmed: set[str] = set()
        for prescription in prescriptions:
            product = PRODUCTS.get(prescription.product)
            if product is None or product.drug in confirmed:
                continue
            confirmed.add(product.drug)
            dosing_records.check_last_dose(product.drug, last_dose_on, last_dose_source, today)
            reason = suspended[prescription.id].reason
            dosing_records.add_last_dose(
                session,
                actor,
                patient,
                drug=product.drug,
                taken_on=last_dose_on,
                source=last_dose_source,
                detail=f"confirmed on resuming after {reason}: {note}".strip(": "),
                now=now,
            )
    for prescription in prescriptions:
        _replan(
            session,
            actor,
            patient,
            prescription,
            suspended[prescription.id],
            last_dose_on=last_dose_on,
            last_dose_source=last_dose_source,
            note=note,
            today=today,
            now=now,
        )
    session.flush()
    alerted: set[str] = set()
    for prescription in prescriptions:
        if prescription.product in alerted:
            continue  # days without a dose are counted per patient and product
        alerted.add(prescription.product)
        alert_if_lapsed(
            session,
            actor=actor,
            patient=patient,
            prescription=prescription,
            today=today,
            now=now,
            policy=policy,
        )


def _replan(
    session: Session,
    actor: Actor,
    patient: Patient,
    prescription: Prescription,
    suspended: SuspensionEvent,
    *,
    last_dose_on: date | None,
    last_dose_source: str | None,
    note: str,
    today: date,
    now: datetime,
) -> None:
    """Plan the days still ahead again (a collection day that fell in the suspension is
    collected from today), make it active and record the resumption."""
    planned, _ = rx_schedule.generate_schedule(
        repository.draft_of(prescription),
        repository.calendar_for(session, prescription.pharmacy_id),
    )
    existing = ledger.planned_dates(session, prescription.id)
    ahead = [
        replace(d, collect_on=max(d.collect_on, today))
        for d in planned
        if d.dose_date >= today and d.dose_date not in existing
    ]
    rows = ledger.plan_days(
        session, prescription, patient.household_id, ahead, today=today, now=now
    )
    guests.keep_granted_days_at_guest(session, prescription, today)
    prescription.status = Status.ACTIVE
    session.add(
        SuspensionEvent(
            prescription_id=prescription.id,
            patient_id=prescription.patient_id,
            pharmacy_id=prescription.pharmacy_id,
            change=SuspensionChange.RESUMED,
            effective_on=today,
            reason=suspended.reason,
            note=note.strip(),
            last_dose_on=last_dose_on,
            last_dose_source=last_dose_source,
            days_planned=len(rows),
            recorded_by_id=actor.id,
            recorded_at=now,
        )
    )
    audit_service.record(
        session,
        actor,
        "prescription.resumed",
        entity="prescription",
        entity_id=prescription.id,
        at=now,
        pharmacy_id=prescription.pharmacy_id,
        facts={
            "days_planned": len(rows),
            "last_dose_on": last_dose_on,
            "last_dose_source": last_dose_source,
        },
    )
