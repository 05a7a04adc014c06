"""What the record pages show, read across the capabilities they compose: a patient's record
(household, key worker, prescriber, prescriptions, change history), the patient card, the
choices a registration or correction form may name, and the names a change history links to.
The pages (`pages.py`, `household_pages.py`) call these and never query a model themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import SYSTEM, Actor
from app.audit import service as audit_service
from app.auth import service as auth_service
from app.auth.policy import may_see_pharmacy
from app.contacts import service as contacts_service
from app.contacts.models import Contact, ContactKind
from app.db import UnitOfWork
from app.households import service as households_service
from app.households.models import BoxMethod, Household, ProtectionStatus
from app.patients import repository as patients_repository
from app.patients import service as patients_service
from app.patients.models import Patient, PatientChange
from app.pharmacies.models import Pharmacy
from app.prescriptions.models import Prescription


def history_labels(session: Session, actor: Actor, values: set[str | None]) -> dict[str, str]:
    """Names for the records a change history links to by id (households, key workers,
    prescribers), so the history reads "1 Test Street" rather than a UUID. A household the
    caller may not see is named only as that."""
    ids: set[UUID] = set()
    for value in values - {None}:
        try:
            ids.add(UUID(str(value)))
        except ValueError:
            continue
    if not ids:
        return {}
    labels: dict[str, str] = {}
    for household in session.scalars(select(Household).where(Household.id.in_(ids))):
        labels[str(household.id)] = (
            f"{household.address}, {household.postcode}"
            if actor is SYSTEM or may_see_pharmacy(actor, household.pharmacy_id)
            else "a household registered at another pharmacy"
        )
    for contact in session.scalars(select(Contact).where(Contact.id.in_(ids))):
        labels[str(contact.id)] = f"{contact.name} ({contact.organisation})"
    return labels


def all_pharmacies(uow: UnitOfWork) -> list[Pharmacy]:
    """Every pharmacy, by name: the choices of a caller who works at none (an area role)."""
    with uow:
        return list(uow.session.scalars(select(Pharmacy).order_by(Pharmacy.name)))


def choices(uow: UnitOfWork, actor: Actor) -> dict[str, object]:
    """The households, key workers, prescribers and pharmacies a form may name."""
    households = households_service.list_households(uow, actor=actor)
    key_workers = contacts_service.list_contacts(uow, actor=actor, kind=ContactKind.KEY_WORKER)
    prescribers = contacts_service.list_contacts(uow, actor=actor, kind=ContactKind.PRESCRIBER)
    pharmacies: list[Pharmacy] = []
    if actor.pharmacy_id is None:
        pharmacies = all_pharmacies(uow)
    return {
        "households": households,
        "key_workers": key_workers,
        "prescribers": prescribers,
        "pharmacies": pharmacies,
        "pharmacy_id": str(actor.pharmacy_id or ""),
    }


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """What the patient page shows around the patient: who and what they are linked to, their
    prescriptions (newest first, at most 100) and their change history, with the names it
    needs."""

    household: Household | None
    key_worker: Contact | None
    prescriber: Contact | None
    prescriptions: list[Prescription]
    history: list[PatientChange]
    who: dict[UUID, str]
    labels: dict[str, str]
    pharmacy: Pharmacy | None


def patient_record(uow: UnitOfWork, actor: Actor, patient: Patient) -> PatientRecord:
    """The record around a patient the caller has already been shown (and the read logged,
    `patients.service.get_patient`)."""
    with uow:
        session = uow.session
        household = session.get(Household, patient.household_id) if patient.household_id else None
        contacts = {
            c.id: c
            for c in session.scalars(
                select(Contact).where(
                    Contact.id.in_([i for i in (patient.key_worker_id, patient.prescriber_id) if i])
                )
            )
        }
        prescriptions = list(
            session.scalars(
                select(Prescription)
                .where(Prescription.patient_id == patient.id)
                .order_by(Prescription.start_on.desc())
                .limit(100)
            )
        )
        history = patients_service.changes(session, [patient.id])
        who = auth_service.display_names(session, {h.changed_by_id for h in history})
        labels = history_labels(
            session, actor, {h.old_value for h in history} | {h.new_value for h in history}
        )
        pharmacy = session.get(Pharmacy, patient.pharmacy_id)
    return PatientRecord(
        household=household,
        key_worker=contacts.get(patient.key_worker_id) if patient.key_worker_id else None,
        prescriber=contacts.get(patient.prescriber_id) if patient.prescriber_id else None,
        prescriptions=prescriptions,
        history=history,
        who=who,
        labels=labels,
        pharmacy=pharmacy,
    )


def patient_card(
    uow: UnitOfWork, actor: Actor, patient_id: UUID, now: datetime
) -> tuple[Patient, Pharmacy | None]:
    """The patient whose card is shown and their pharmacy; showing the card is logged."""
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id)
        pharmacy = session.get(Pharmacy, patient.pharmacy_id)
        audit_service.record(
            session,
            actor,
            "patient.card_shown",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
        )
        uow.commit()
    return patient, pharmacy


def protection_statuses() -> list[str]:
    """The protection statuses a household may be given, as the household form offers them."""
    return [s.value for s in ProtectionStatus]


def box_methods() -> list[str]:
    """The ways a lockable box may be seen, as the household page offers them."""
    return [m.value for m in BoxMethod]
