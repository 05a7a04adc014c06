"""Facts the counter rules depend on that somebody has to tell us: when the patient last took a
dose elsewhere, the prescriber's direction that a representative may collect a supervised day's
dose, and a pharmacist's reassessment of a patient whose dose was withheld earlier today.

Each is append-only, audited, and belongs to the people the law or guidance gives it to: the
last dose and the reassessment change whether methadone may be supplied, so they are the
pharmacist's (or, for the last dose, the prescriber's) to record, never a technician's.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role, require_safety_act
from app.auth.roles import Role
from app.db import UnitOfWork, retrying
from app.dosing.models import (
    DoseState,
    InstalmentDay,
    LastDoseRecord,
    LastDoseSource,
    Mode,
    Reassessment,
    RepresentativeAuthorisation,
)
from app.errors import Conflict, InvalidInput, NotFound
from app.patients import repository as patients_repository
from app.patients.models import Patient
from app.prescriptions.models import Prescription
from app.prescriptions.products import PRODUCTS

# A last dose taken longer ago than this is recorded as "more than a year": the threshold has
# long been passed and the prescriber must review whatever the exact date.
LAST_DOSE_LOOKBACK_DAYS = 366
DRUGS = frozenset(product.drug for product in PRODUCTS.values())


def check_last_dose(drug: str, taken_on: date | None, source: str, today: date) -> None:
    """Refuse a last-dose statement that cannot be right, naming the field."""
    if drug not in DRUGS:
        raise InvalidInput("drug", "known_drug", f"must be one of {', '.join(sorted(DRUGS))}")
    if source not in set(LastDoseSource):
        raise InvalidInput("source", "known_source", "is not a known source")
    if source == LastDoseSource.INDUCTION:
        if taken_on is not None:
            raise InvalidInput(
                "taken_on", "induction_has_no_date", "a patient new to treatment has no last dose"
            )
    elif taken_on is None:
        raise InvalidInput("taken_on", "required", "give the date the last dose was taken")
    elif taken_on > today:
        raise InvalidInput("taken_on", "not_in_future", "cannot be in the future")
    elif taken_on < today - timedelta(days=LAST_DOSE_LOOKBACK_DAYS):
        raise InvalidInput(
            "taken_on", "within_a_year", "more than a year ago: record the date as a year ago"
        )


def add_last_dose(
    session: Session,
    actor: Actor,
    patient: Patient,
    *,
    drug: str,
    taken_on: date | None,
    source: str,
    detail: str,
    now: datetime,
) -> LastDoseRecord:
    """Append a checked last-dose statement in the caller's transaction, and audit it."""
    require_safety_act(actor, "record_last_dose")
    record = LastDoseRecord(
        patient_id=patient.id,
        drug=drug,
        taken_on=taken_on,
        source=source,
        detail=detail.strip(),
        recorded_by_id=actor.id,
        recorded_at=now,
    )
    session.add(record)
    session.flush()
    audit_service.record(
        session,
        actor,
        "patient.last_dose_recorded",
        entity="patient",
        entity_id=patient.id,
        at=now,
        pharmacy_id=patient.pharmacy_id,
        facts={"drug": drug, "taken_on": taken_on, "source": source},
    )
    return record


@retrying
def record_last_dose(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    drug: str,
    taken_on: date | None,
    source: str,
    detail: str,
    today: date,
    now: datetime,
) -> LastDoseRecord:
    """Record when the patient last took `drug` before this pharmacy's record begins (or that
    they are new to treatment), and who says so.

    The counter counts days without a dose from the later of this and the last dose taken here,
    so a wrong date can lift a block: only a pharmacist or a prescriber may record it.
    """
    require_safety_act(actor, "record_last_dose")
    check_last_dose(drug, taken_on, source, today)
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id, for_update=True)
        record = add_last_dose(
            session,
            actor,
            patient,
            drug=drug,
            taken_on=taken_on,
            source=source,
            detail=detail,
            now=now,
        )
        uow.commit()
        return record


@retrying
def authorise_representative(
    uow: UnitOfWork,
    *,
    actor: Actor,
    prescription_id: UUID,
    dose_date: date,
    representative: str,
    directed_by: str,
    note: str,
    today: date,
    now: datetime,
) -> RepresentativeAuthorisation:
    """Record the prescriber's direction that a representative may collect the supervised dose
    of `dose_date`. That day then goes home as a take-home, and the register, the label and
    every report say so.

    A prescriber signed in records their own direction; a pharmacist records one received (by
    phone or in writing) and says from whom.
    """
    require_role(actor, {Role.PRESCRIBER, Role.PHARMACIST}, "record a prescriber's direction")
    if not representative.strip():
        raise InvalidInput("representative", "required", "name the representative")
    if dose_date < today:
        raise InvalidInput("dose_date", "not_in_past", "a direction cannot cover a past day")
    given_by = directed_by.strip() or (actor.name if actor.role == Role.PRESCRIBER else "")
    if not given_by:
        raise InvalidInput(
            "directed_by",
            "required",
            "say which prescriber gave the direction and how (e.g. by phone)",
        )
    with uow:
        session = uow.session
        prescription = session.get(Prescription, prescription_id)
        if prescription is None:
            raise NotFound("prescription", prescription_id)
        try:
            patients_repository.load_visible(session, actor, prescription.patient_id)
        except NotFound:
            raise NotFound("prescription", prescription_id) from None
        row = session.scalar(
            select(InstalmentDay).where(
                InstalmentDay.prescription_id == prescription.id,
                InstalmentDay.dose_date == dose_date,
            )
        )
        if row is None or row.mode != Mode.SUPERVISED or row.state != DoseState.DUE:
            raise Conflict(
                f"{dose_date} is not a supervised day still to be supplied on this prescription",
                code="not_a_supervised_day",
            )
        authorisation = RepresentativeAuthorisation(
            prescription_id=prescription.id,
            patient_id=prescription.patient_id,
            dose_date=dose_date,
            representative=representative.strip(),
            directed_by=given_by,
            note=note.strip(),
            recorded_by_id=actor.id,
            recorded_at=now,
        )
        session.add(authorisation)
        session.flush()
        audit_service.record(
            session,
            actor,
            "prescription.representative_authorised",
            entity="prescription",
            entity_id=prescription.id,
            at=now,
            pharmacy_id=prescription.pharmacy_id,
            facts={"dose_date": dose_date, "authorisation_id": authorisation.id},
        )
        uow.commit()
        return authorisation


@retrying
def reassess(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    not_intoxicated: bool,
    note: str,
    today: date,
    now: datetime,
) -> Reassessment:
    """A pharmacist reassessed a patient whose dose was withheld earlier today and found them
    fit to take it: today's dose may now be handed over (and only today's).

    The withhold stays in the record: it is copied here, kept in the audit log, and the supply
    that follows references this reassessment. Recording it twice returns the first.
    """
    require_safety_act(actor, "reassess")
    if not not_intoxicated:
        raise InvalidInput(
            "not_intoxicated",
            "attestation_required",
            "confirm the patient is not intoxicated now; otherwise the dose stays withheld",
        )
    if len(note.strip()) < 3:
        raise InvalidInput("note", "required", "say what you saw when you reassessed the patient")
    with uow:
        session = uow.session
        patient = patients_repository.load_for_counter(
            session, actor, patient_id, today, for_update=True
        )
        existing = session.scalar(
            select(Reassessment).where(
                Reassessment.patient_id == patient.id, Reassessment.dose_date == today
            )
        )
        if existing is not None:
            return existing
        withheld = session.scalar(
            select(InstalmentDay)
            .where(
                InstalmentDay.patient_id == patient.id,
                InstalmentDay.collect_on == today,
                InstalmentDay.dose_date == today,
                InstalmentDay.state == DoseState.WITHHELD,
                InstalmentDay.reassessment_id.is_(None),
            )
            .limit(1)
        )
        if withheld is None:
            raise Conflict(
                "No dose was withheld from this patient today, so there is nothing to reassess",
                code="nothing_withheld_today",
            )
        reassessment = Reassessment(
            patient_id=patient.id,
            pharmacy_id=withheld.pharmacy_id,
            dose_date=today,
            withheld_by_id=withheld.recorded_by_id,
            withheld_at=withheld.recorded_at,
            withhold_reason=withheld.reason,
            reassessed_by_id=actor.id,
            reassessed_at=now,
            note=note.strip(),
        )
        session.add(reassessment)
        session.flush()
        audit_service.record(
            session,
            actor,
            "dose.reassessed",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"reassessment_id": reassessment.id, "withheld_at": withheld.recorded_at},
        )
        uow.commit()
        return reassessment
