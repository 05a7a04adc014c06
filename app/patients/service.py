"""Use cases for patients: register, look up (every read is logged), search."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.audit.service import SYSTEM, Actor
from app.auth.models import Role
from app.auth.policy import (
    CLINICIANS,
    may_see_patient,
    may_see_pharmacy,
    pharmacy_scope,
    require_role,
)
from app.contacts.models import Contact, ContactKind
from app.db import UnitOfWork
from app.errors import Conflict, InvalidInput, NotFound
from app.households import service as households_service
from app.patients.cards import canonical_card_code, new_card_code
from app.patients.models import Patient
from app.patients.rules import is_valid_nhs_number, normalise_nhs_number
from app.pharmacies.models import Pharmacy

WRITERS = {Role.ADMIN, Role.PHARMACIST, Role.TECHNICIAN}


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


def _check_contact(session: Session, contact_id: UUID | None, kind: str, field: str) -> None:
    if contact_id is None:
        return
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"{kind.replace('_', ' ')} contact", contact_id)
    if contact.kind != kind:
        raise InvalidInput(field, "contact_kind", f"must name a {kind.replace('_', ' ')} contact")


def register_patient(
    uow: UnitOfWork,
    *,
    actor: Actor,
    given_name: str,
    family_name: str,
    date_of_birth: date,
    nhs_number: str,
    pharmacy_id: UUID,
    household_id: UUID | None,
    key_worker_id: UUID | None,
    prescriber_id: UUID | None,
    pregnant: bool = False,
    today: date,
    now: datetime,
) -> Patient:
    """Register a patient at a pharmacy the caller works in, with a fresh random card code."""
    if actor is not SYSTEM:
        require_role(actor, WRITERS, "register patients")
    nhs = normalise_nhs_number(nhs_number)
    if not is_valid_nhs_number(nhs):
        raise InvalidInput(
            "nhs_number",
            "nhs_modulus_11",
            "is not a valid NHS number (10 digits passing the Modulus 11 check)",
        )
    if date_of_birth > today:
        raise InvalidInput("date_of_birth", "not_in_future", "cannot be in the future")
    if households_service.age_on(date_of_birth, today) > 120:
        raise InvalidInput("date_of_birth", "plausible", "is more than 120 years ago")
    with uow:
        session = uow.session
        pharmacy = session.get(Pharmacy, pharmacy_id)
        if pharmacy is None or not (actor is SYSTEM or may_see_pharmacy(actor, pharmacy_id)):
            raise NotFound("pharmacy", pharmacy_id)
        if household_id is not None:
            households_service.load_visible(session, actor, household_id)
        _check_contact(session, key_worker_id, ContactKind.KEY_WORKER, "key_worker_id")
        _check_contact(session, prescriber_id, ContactKind.PRESCRIBER, "prescriber_id")
        patient = Patient(
            given_name=given_name,
            family_name=family_name,
            date_of_birth=date_of_birth,
            nhs_number=nhs,
            pharmacy_id=pharmacy_id,
            household_id=household_id,
            key_worker_id=key_worker_id,
            prescriber_id=prescriber_id,
            pregnant=pregnant,
            card_code=new_card_code(),
            created_at=now,
        )
        session.add(patient)
        try:
            session.flush()
        except IntegrityError as exc:
            raise Conflict(
                "A patient with this NHS number is already registered", code="duplicate_nhs_number"
            ) from exc
        audit_service.record(
            session,
            actor,
            "patient.registered",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=pharmacy_id,
            facts={"household_id": household_id},
        )
        uow.commit()
        return patient


def get_patient(uow: UnitOfWork, *, actor: Actor, patient_id: UUID, now: datetime) -> Patient:
    """Return the patient and log the read (DSPT: who viewed which record, when)."""
    with uow:
        patient = load_visible(uow.session, actor, patient_id)
        audit_service.record(
            uow.session,
            actor,
            "patient.viewed",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
        )
        uow.commit()
        return patient


def find_by_card(session: Session, actor: Actor, card_code: str) -> Patient:
    patient = session.scalar(
        select(Patient).where(Patient.card_code == canonical_card_code(card_code))
    )
    if patient is None:
        raise NotFound("patient card", "(scanned)")
    return load_visible(session, actor, patient.id)


def _search_filter(q: str) -> ColumnElement[bool]:
    q = q.strip()
    digits = normalise_nhs_number(q)
    if digits.isdigit() and len(digits) == 10:
        return Patient.nhs_number == digits
    try:
        born = date.fromisoformat(q)
    except ValueError:
        born = None
    if born is not None:
        return Patient.date_of_birth == born
    like = f"%{q.lower()}%"
    full = func.lower(Patient.given_name + " " + Patient.family_name)
    return or_(
        func.lower(Patient.family_name).like(like),
        func.lower(Patient.given_name).like(like),
        full.like(like),
    )


def search_patients(
    uow: UnitOfWork,
    *,
    actor: Actor,
    q: str | None,
    household_id: UUID | None = None,
    offset: int,
    limit: int,
    now: datetime,
) -> tuple[list[Patient], bool]:
    """Patients the caller may see, by name, date of birth (YYYY-MM-DD) or NHS number."""
    with uow:
        query = select(Patient)
        if actor.role in CLINICIANS:
            if actor.contact_id is None:
                return [], False
            query = query.where(
                or_(
                    Patient.key_worker_id == actor.contact_id,
                    Patient.prescriber_id == actor.contact_id,
                )
            )
        else:
            scope = pharmacy_scope(actor)
            if scope is not None:
                query = query.where(Patient.pharmacy_id == scope)
        if q:
            query = query.where(_search_filter(q))
        if household_id is not None:
            query = query.where(Patient.household_id == household_id)
        rows = list(
            uow.session.scalars(
                query.order_by(Patient.family_name, Patient.given_name, Patient.id)
                .offset(offset)
                .limit(limit + 1)
            )
        )
        # Logged even when nothing is found: probing NHS numbers must leave a trace.
        audit_service.record(
            uow.session,
            actor,
            "patient.searched",
            entity="patient",
            entity_id="-",
            at=now,
            pharmacy_id=actor.pharmacy_id,
            facts={"results": min(len(rows), limit)},
        )
        uow.commit()
        return rows[:limit], len(rows) > limit
