"""Reading prescriptions: one with its schedule (the ledger once checked), and a patient's
list; what the intake, waiting-list and check pages show. Every read is written to the access
log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth import service as auth_service
from app.contacts import repository as contacts_repository
from app.contacts.models import Contact
from app.db import UnitOfWork
from app.dosing import ledger
from app.errors import NotFound
from app.patients import repository as patients_repository
from app.patients.models import Patient
from app.prescriptions import dose_plan, repository
from app.prescriptions import schedule as rx_schedule
from app.prescriptions.models import Prescription, Status, SuspensionEvent


def schedule(session: Session, prescription: Prescription) -> list[dict[str, Any]]:
    """The ledger rows once checked; before that, the schedule the rules would generate."""
    rows = ledger.days_of(session, prescription.id)
    if rows:
        return [
            {
                "dose_date": r.dose_date,
                "collect_on": r.collect_on,
                "mode": r.mode,
                "dose_mg": r.dose_mg,
                "parts": r.parts or [],
                "state": r.state,
            }
            for r in rows
        ]
    if prescription.status != Status.PENDING_CHECK:
        return []
    planned, _ = rx_schedule.generate_schedule(
        repository.draft_of(prescription),
        repository.calendar_for(session, prescription.pharmacy_id),
    )
    return [
        {
            "dose_date": d.dose_date,
            "collect_on": d.collect_on,
            "mode": d.mode,
            "dose_mg": d.dose_mg,
            "parts": dose_plan.parts_json(d.parts) or [],
            "state": "planned",
        }
        for d in planned
    ]


def get(
    uow: UnitOfWork, *, actor: Actor, prescription_id: UUID, now: datetime
) -> tuple[Prescription, list[dict[str, Any]]]:
    with uow:
        prescription = repository.load_visible(uow.session, actor, prescription_id)
        days = schedule(uow.session, prescription)
        audit_service.record(
            uow.session,
            actor,
            "prescription.viewed",
            entity="prescription",
            entity_id=prescription.id,
            at=now,
            pharmacy_id=prescription.pharmacy_id,
        )
        uow.commit()
        return prescription, days


def list_for_patient(
    uow: UnitOfWork, *, actor: Actor, patient_id: UUID, now: datetime
) -> list[Prescription]:
    """The patient's prescriptions, newest first; the read is logged."""
    with uow:
        patient = patients_repository.load_visible(uow.session, actor, patient_id)
        rows = list(
            uow.session.scalars(
                select(Prescription)
                .where(Prescription.patient_id == patient_id)
                .order_by(Prescription.start_on.desc())
            )
        )
        audit_service.record(
            uow.session,
            actor,
            "patient.prescriptions_viewed",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"prescriptions": len(rows)},
        )
        uow.commit()
        return rows


def patient_name(patient: Patient) -> str:
    return f"{patient.given_name} {patient.family_name}"


@dataclass(frozen=True, slots=True)
class IntakeForm:
    """What the intake form for one patient shows: the patient, the prescribers the form may
    name, and the prescription it replaces (if it supersedes one)."""

    patient: Patient
    prescribers: list[Contact]
    replaced: Prescription | None


def intake_form(
    uow: UnitOfWork, *, actor: Actor, patient_id: UUID, supersedes: UUID | None, now: datetime
) -> IntakeForm:
    """The intake form's patient, prescribers and replaced prescription; the form shows the
    patient, so the read is logged."""
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id)
        prescribers = contacts_repository.prescribers_for(session, patient.pharmacy_id)
        replaced = None
        if supersedes is not None:
            replaced = repository.load_visible(session, actor, supersedes)
            if replaced.patient_id != patient.id:
                raise NotFound("prescription", supersedes)
        # The form shows the patient: one read event (who saw which record, when).
        audit_service.record_patient_reads(
            session,
            actor,
            "patient.listed",
            [(patient.id, patient.pharmacy_id)],
            at=now,
            facts={"by": "prescription_intake"},
        )
        uow.commit()
    return IntakeForm(patient=patient, prescribers=prescribers, replaced=replaced)


@dataclass(frozen=True, slots=True)
class PendingRow:
    """One prescription waiting for a second pharmacist, with its patient and who entered it."""

    prescription: Prescription
    patient: Patient
    entered_by: str | None


def pending_check(uow: UnitOfWork, *, actor: Actor, now: datetime) -> list[PendingRow]:
    """The caller's pharmacy's prescriptions waiting for a check, oldest first; each patient
    listed is a logged read."""
    with uow:
        session = uow.session
        found = list(
            session.execute(
                select(Prescription, Patient)
                .join(Patient, Patient.id == Prescription.patient_id)
                .where(
                    Prescription.pharmacy_id == actor.pharmacy_id,
                    Prescription.status == Status.PENDING_CHECK,
                )
                .order_by(Prescription.entered_at)
            ).all()
        )
        who = auth_service.display_names(session, {p.entered_by_id for p, _ in found})
        rows = [
            PendingRow(p, patient, who.get(p.entered_by_id) if p.entered_by_id else None)
            for p, patient in found
        ]
        audit_service.record_patient_reads(
            session,
            actor,
            "patient.listed",
            [(row.patient.id, row.patient.pharmacy_id) for row in rows],
            at=now,
            facts={"by": "prescriptions_pending"},
        )
        uow.commit()
    return rows


@dataclass(frozen=True, slots=True)
class CheckView:
    """What the check screen shows beside the prescription: its patient, its prescriber and
    the names of the people who entered, checked or cancelled it."""

    patient: Patient
    prescriber: Contact | None
    people: dict[UUID, str]


def check_view(
    uow: UnitOfWork, *, actor: Actor, prescription: Prescription, now: datetime
) -> CheckView:
    """The patient, prescriber and people a prescription names, for the check screen; the
    screen shows the patient, so the read is logged."""
    with uow:
        session = uow.session
        patient = patients_repository.by_id(session, prescription.patient_id)
        assert patient is not None
        prescriber = contacts_repository.by_id(session, prescription.prescriber_id)
        people = auth_service.display_names(
            session,
            {prescription.entered_by_id, prescription.verified_by_id, prescription.cancelled_by_id}
            | {s.recorded_by_id for s in repository.suspensions(session, prescription.id)},
        )
        audit_service.record_patient_reads(
            session,
            actor,
            "patient.listed",
            [(patient.id, patient.pharmacy_id)],
            at=now,
            facts={"by": "prescription_check"},
        )
        uow.commit()
    return CheckView(patient=patient, prescriber=prescriber, people=people)


def cancellable(prescription: Prescription) -> bool:
    """Not yet ended: it may still be cancelled (by a pharmacist or an administrator)."""
    return prescription.status not in (Status.CANCELLED, Status.COMPLETED)


def supersedable(prescription: Prescription) -> bool:
    """Pending, active or suspended: a replacement may be transcribed for it."""
    return prescription.status in (Status.PENDING_CHECK, Status.ACTIVE, Status.SUSPENDED)


def suspensions(uow: UnitOfWork, *, actor: Actor, prescription_id: UUID) -> list[SuspensionEvent]:
    """A prescription's suspensions and resumptions, oldest first (visibility as the
    prescription's)."""
    with uow:
        prescription = repository.load_visible(uow.session, actor, prescription_id)
        return repository.suspensions(uow.session, prescription.id)


def patient_suspensions(
    uow: UnitOfWork, *, actor: Actor, patient_id: UUID
) -> list[SuspensionEvent]:
    """Every suspension and resumption of any of the patient's prescriptions, oldest first
    (visibility as the patient's)."""
    with uow:
        patient = patients_repository.load_visible(uow.session, actor, patient_id)
        return repository.patient_suspensions(uow.session, patient.id)


@dataclass(frozen=True, slots=True)
class SuspensionHistory:
    """What the patient page shows of suspensions: every event, the prescription each one
    concerns in words, and who recorded it."""

    events: list[SuspensionEvent]
    prescriptions: dict[UUID, str]
    people: dict[UUID, str]


def suspension_history(uow: UnitOfWork, *, actor: Actor, patient: Patient) -> SuspensionHistory:
    """The suspension history of a patient the caller has already been shown."""
    with uow:
        session = uow.session
        events = repository.patient_suspensions(session, patient.id)
        ids = {e.prescription_id for e in events}
        named = {
            p.id: f"The prescription from {p.start_on:%d/%m/%Y} to {p.end_on:%d/%m/%Y}"
            for p in (
                session.scalars(select(Prescription).where(Prescription.id.in_(ids))) if ids else []
            )
        }
        people = auth_service.display_names(session, {e.recorded_by_id for e in events})
    return SuspensionHistory(events=events, prescriptions=named, people=people)
