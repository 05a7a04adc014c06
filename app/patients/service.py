"""Use cases for patients: register, look up (every read is logged), change, reissue a card.

Searching for patients is in `app.patients.search`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import events, kit
from app.actor import SYSTEM, Actor
from app.audit import service as audit_service
from app.auth.policy import may_see_pharmacy, require_role
from app.auth.roles import Role
from app.config import PolicySettings
from app.contacts.models import Contact, ContactKind
from app.db import UnitOfWork
from app.errors import Conflict, InvalidInput, NotFound
from app.kit import UNSET, Unset
from app.patients.cards import canonical_card_code, new_card_code
from app.patients.events import HouseholdNamed, MembersChanged
from app.patients.models import Patient, PatientChange
from app.patients.repository import (
    by_ids,
    guest_visible,
    held_where_caller_cannot_see,
    load_visible,
    visible_to,
)
from app.patients.rules import is_valid_nhs_number, normalise_nhs_number
from app.pharmacies.models import Pharmacy

WRITERS = {Role.ADMIN, Role.PHARMACIST, Role.TECHNICIAN}


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
    expected_delivery_on: date | None = None,
    today: date,
    now: datetime,
) -> Patient:
    """Register a patient at a pharmacy the caller works in, with a fresh random card code."""
    if actor is not SYSTEM:
        require_role(actor, WRITERS, "register patients")
    nhs = normalise_nhs_number(nhs_number)
    if not is_valid_nhs_number(nhs):
        raise _not_registrable()
    with uow:
        held = held_where_caller_cannot_see(uow.session, actor, nhs)
        if held is not None:
            # One answer for both: a number held at a pharmacy the caller cannot see is refused
            # exactly as a number that fails its check (docs/decisions.md, "Registration"); the
            # attempt is on the record for an administrator to resolve.
            audit_service.record(
                uow.session,
                actor,
                "access.refused",
                entity="patient",
                entity_id=held.id,
                at=now,
                pharmacy_id=actor.pharmacy_id,
                facts={"code": "nhs_number_held_elsewhere", "held_at": held.pharmacy_id},
            )
            uow.commit()
            raise _not_registrable()
    with uow:
        session = uow.session
        if date_of_birth > today:
            raise InvalidInput("date_of_birth", "not_in_future", "cannot be in the future")
        if kit.age_on(date_of_birth, today) > 120:
            raise InvalidInput("date_of_birth", "plausible", "is more than 120 years ago")
        pharmacy = session.get(Pharmacy, pharmacy_id)
        if pharmacy is None or not (actor is SYSTEM or may_see_pharmacy(actor, pharmacy_id)):
            raise NotFound("pharmacy", pharmacy_id)
        if household_id is not None:
            events.publish(session, HouseholdNamed(household_id, actor))
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
            expected_delivery_on=expected_delivery_on if pregnant else None,
            card_code=new_card_code(),
            created_at=now,
        )
        session.add(patient)
        try:
            session.flush()
        except IntegrityError as exc:
            # Registered meanwhile (a race with another terminal): answered as above.
            session.rollback()
            if held_where_caller_cannot_see(session, actor, nhs) is not None:
                raise _not_registrable() from None
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


def _not_registrable() -> InvalidInput:
    return InvalidInput(
        "nhs_number",
        "not_registrable",
        "cannot be registered: it is not a valid NHS number (10 digits passing the Modulus 11 "
        "check), or it cannot be registered at this pharmacy. Check it against the "
        "prescription; if it is right, ask an administrator",
    )


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


def find_by_card(
    session: Session, actor: Actor, card_code: str, *, today: date | None = None
) -> Patient:
    """The patient holding a scanned card, if the caller may see them or (at the counter,
    `today` given) doses them today as a guest pharmacy."""
    patient = session.scalar(
        select(Patient).where(Patient.card_code == canonical_card_code(card_code))
    )
    if patient is None or not (
        actor is SYSTEM
        or visible_to(actor, patient)
        or (today is not None and guest_visible(session, actor, patient, today))
    ):
        # Another pharmacy's card answers exactly as a card nobody holds.
        raise NotFound("patient card", "(scanned)")
    return patient


@dataclass(frozen=True, slots=True)
class PatientUpdate:
    """What may change about a patient; fields left out (UNSET) stay as they are."""

    given_name: str | None = None
    family_name: str | None = None
    household_id: UUID | None | Unset = UNSET
    key_worker_id: UUID | None | Unset = UNSET
    prescriber_id: UUID | None | Unset = UNSET
    pregnant: bool | None = None
    expected_delivery_on: date | None | Unset = UNSET


# An expected date of delivery: up to 42 weeks ahead, or a few weeks overdue.
DELIVERY_AHEAD_DAYS = 42 * 7
DELIVERY_OVERDUE_DAYS = 42


def update_patient(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    update: PatientUpdate,
    reason: str,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> Patient:
    """Change a patient's details: each changed field is a history row (old, new, who, when,
    why), and the household rules run again for the household they leave and the one they join.

    Pregnancy is recorded with its expected date of delivery; the intake rules then warn at any
    dose change (`dose_change_in_pregnancy`).
    """
    require_role(actor, WRITERS, "change patient details")
    with uow:
        session = uow.session
        patient = load_visible(session, actor, patient_id, for_update=True)
        values: dict[str, object] = {}
        for name in ("given_name", "family_name"):
            value = getattr(update, name)
            if value is not None and value != getattr(patient, name):
                values[name] = value
        if not isinstance(update.household_id, Unset) and update.household_id != (
            patient.household_id
        ):
            if update.household_id is not None:
                events.publish(session, HouseholdNamed(update.household_id, actor))
            values["household_id"] = update.household_id
        for name, kind in (
            ("key_worker_id", ContactKind.KEY_WORKER),
            ("prescriber_id", ContactKind.PRESCRIBER),
        ):
            value = getattr(update, name)
            if not isinstance(value, Unset) and value != getattr(patient, name):
                _check_contact(session, value, kind, name)
                values[name] = value
        pregnant = patient.pregnant if update.pregnant is None else update.pregnant
        if update.pregnant is not None and update.pregnant != patient.pregnant:
            values["pregnant"] = update.pregnant
        expected = update.expected_delivery_on
        if not pregnant:
            expected = None  # no longer pregnant: no expected date
        if not isinstance(expected, Unset) and expected != patient.expected_delivery_on:
            if expected is not None and not (
                today - timedelta(days=DELIVERY_OVERDUE_DAYS)
                <= expected
                <= today + timedelta(days=DELIVERY_AHEAD_DAYS)
            ):
                raise InvalidInput(
                    "expected_delivery_on",
                    "within_pregnancy",
                    "must be within 42 weeks from today (or a few weeks overdue)",
                )
            values["expected_delivery_on"] = expected
        left = patient.household_id
        for name, value in values.items():
            session.add(
                PatientChange(
                    patient_id=patient.id,
                    field=name,
                    old_value=_text(getattr(patient, name)),
                    new_value=_text(value),
                    reason=reason,
                    changed_by_id=actor.id if actor is not SYSTEM else None,
                    changed_at=now,
                )
            )
            setattr(patient, name, value)
        if values:
            audit_service.record(
                session,
                actor,
                "patient.updated",
                entity="patient",
                entity_id=patient.id,
                at=now,
                pharmacy_id=patient.pharmacy_id,
                facts={"fields": sorted(values)},
            )
            session.flush()
            moved = frozenset(h for h in (left, patient.household_id) if h is not None)
            if moved:
                events.publish(
                    session,
                    MembersChanged(moved, actor=actor, today=today, now=now, policy=policy),
                )
        uow.commit()
        return patient


def reissue_card(
    uow: UnitOfWork, *, actor: Actor, patient_id: UUID, reason: str, now: datetime
) -> Patient:
    """Give the patient a new card code: the old card (lost, stolen, or seen in someone else's
    hands) stops selecting them at once. The history says a new card was issued, by whom and
    why; neither code is written there (a code is what a scanner reads, not a detail)."""
    require_role(actor, WRITERS, "issue patient cards")
    with uow:
        session = uow.session
        patient = load_visible(session, actor, patient_id, for_update=True)
        patient.card_code = new_card_code()
        session.add(
            PatientChange(
                patient_id=patient.id,
                field="card",
                old_value="the previous card (no longer works)",
                new_value="a new card",
                reason=reason,
                changed_by_id=actor.id if actor is not SYSTEM else None,
                changed_at=now,
            )
        )
        audit_service.record(
            session,
            actor,
            "patient.card_reissued",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
        )
        uow.commit()
        return patient


def history(
    uow: UnitOfWork, *, actor: Actor, patient_id: UUID, now: datetime
) -> list[PatientChange]:
    """A patient's change history (the read is logged)."""
    with uow:
        patient = load_visible(uow.session, actor, patient_id)
        found = changes(uow.session, [patient.id])
        audit_service.record(
            uow.session,
            actor,
            "patient.history_viewed",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
        )
        uow.commit()
        return found


def changes(session: Session, patient_ids: Sequence[UUID]) -> list[PatientChange]:
    """The change history of these patients, newest first."""
    if not patient_ids:
        return []
    return list(
        session.scalars(
            select(PatientChange)
            .where(PatientChange.patient_id.in_(patient_ids))
            .order_by(PatientChange.changed_at.desc(), PatientChange.id)
            .limit(200)
        )
    )


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:500]


def listed(
    session: Session, actor: Actor, patient_ids: set[UUID], *, at: datetime, by: str
) -> list[Patient]:
    """The patients a list names (the alerts in an inbox, the subject of an alert), each read
    logged as `patient.listed` with the list it was in: who saw which record, when, where. The
    list itself decided what the caller may see; this adds the names and the log."""
    shown = by_ids(session, patient_ids)
    audit_service.record_patient_reads(
        session,
        actor,
        "patient.listed",
        [(p.id, p.pharmacy_id) for p in shown],
        at=at,
        facts={"by": by},
    )
    return shown


def move_to_pharmacy(
    session: Session,
    actor: Actor,
    patient: Patient,
    pharmacy_id: UUID,
    *,
    reason: str,
    now: datetime,
) -> None:
    """The patient now belongs to another pharmacy (a transfer), with the change kept in the
    patient's history; the caller's transaction (never commits)."""
    session.add(
        PatientChange(
            patient_id=patient.id,
            field="pharmacy_id",
            old_value=str(patient.pharmacy_id),
            new_value=str(pharmacy_id),
            reason=reason[:500],
            changed_by_id=actor.id if actor is not SYSTEM else None,
            changed_at=now,
        )
    )
    patient.pharmacy_id = pharmacy_id
