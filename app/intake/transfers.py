"""A patient transferred to another pharmacy for good (issue 19 §2): the patient, the live
prescriptions and the instalments still due from today move to the new pharmacy, with a
handover note it reads first; the old pharmacy keeps the record of what it supplied and sees
nothing more of the patient.

The household goes too when no other patient of the old pharmacy lives there (otherwise both
pharmacies see it, each through its own patient). A transfer with a guest grant still open is
refused: the days granted belong to a third counter, and moving them under it would hand a
stay arranged by one pharmacy to another that never agreed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.db import UnitOfWork
from app.dosing import ledger
from app.errors import Conflict, InvalidInput
from app.households import repository as households_repository
from app.households import service as households_service
from app.patients import repository as patients_repository
from app.patients import service as patients_service
from app.patients.models import Patient, PatientTransfer
from app.pharmacies import repository as pharmacies_repository
from app.pharmacies.models import Pharmacy
from app.prescriptions.models import Prescription, Status
from app.safeguarding import acknowledgement

TRANSFERRERS = {Role.PHARMACIST}
LIVE = (Status.PENDING_CHECK, Status.ACTIVE, Status.SUSPENDED)


@dataclass(frozen=True, slots=True)
class Transferred:
    transfer: PatientTransfer
    patient: Patient
    from_pharmacy: Pharmacy
    to_pharmacy: Pharmacy


def transfer(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    to_ods_code: str,
    handover_note: str,
    today: date,
    now: datetime,
) -> Transferred:
    """Move the patient to the pharmacy with this ODS code from today."""
    require_role(actor, TRANSFERRERS, "transfer patients")
    if len(handover_note.strip()) < 10:
        raise InvalidInput(
            "handover_note",
            "required",
            "write the handover the new pharmacy reads first: the regime, the last dose, the "
            "household and anything they must know (at least a sentence)",
        )
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id, for_update=True)
        old_id = patient.pharmacy_id
        new = pharmacies_repository.by_ods_code(session, to_ods_code)
        if new is None:
            raise InvalidInput(
                "to_ods_code",
                "known_pharmacy",
                "is not a pharmacy using Dosekeeper: check the ODS code; a pharmacy outside "
                "Dosekeeper receives the handover by the usual routes",
            )
        if new.id == old_id:
            raise InvalidInput("to_ods_code", "another_pharmacy", "is the patient's pharmacy")
        if patients_repository.open_grants(session, patient.id, today):
            raise Conflict(
                "The patient has guest dosing arranged or under way: end it before the transfer",
                code="guest_grant_open",
            )
        prescriptions = list(
            session.scalars(
                select(Prescription)
                .where(
                    Prescription.patient_id == patient.id,
                    Prescription.pharmacy_id == old_id,
                    Prescription.status.in_(LIVE),
                    Prescription.end_on >= today,
                )
                .with_for_update()
            )
        )
        days = 0
        for prescription in prescriptions:
            days += ledger.move_due_days(
                session,
                prescription.id,
                collect_from=today,
                collect_to=None,
                from_pharmacy_id=old_id,
                to_pharmacy_id=new.id,
                dose_from=today,
            )
            prescription.pharmacy_id = new.id
        reason = f"Transferred to {new.name} ({new.ods_code})"
        patients_service.move_to_pharmacy(session, actor, patient, new.id, reason=reason, now=now)
        household_moved = _move_household(session, actor, patient, old_id, new.id, reason, now)
        alerts_moved = acknowledgement.follow_the_patient(
            session, actor=actor, patient_id=patient.id, to_pharmacy_id=new.id, why=reason, now=now
        )
        moved = PatientTransfer(
            patient_id=patient.id,
            from_pharmacy_id=old_id,
            to_pharmacy_id=new.id,
            effective_on=today,
            handover_note=handover_note.strip(),
            prescriptions_moved=len(prescriptions),
            days_moved=days,
            household_moved=household_moved,
            transferred_by_id=actor.id,
            transferred_at=now,
        )
        session.add(moved)
        session.flush()
        facts = {
            "transfer_id": moved.id,
            "from_pharmacy_id": old_id,
            "to_pharmacy_id": new.id,
            "prescriptions": len(prescriptions),
            "days": days,
            "household_moved": household_moved,
            "alerts_moved": alerts_moved,
        }
        for pharmacy_id in (old_id, new.id):
            audit_service.record(
                session,
                actor,
                "patient.transferred",
                entity="patient",
                entity_id=patient.id,
                at=now,
                pharmacy_id=pharmacy_id,
                facts=facts,
            )
        old = pharmacies_repository.by_id(session, old_id)
        assert old is not None
        uow.commit()
        return Transferred(moved, patient, old, new)


def _move_household(
    session: Session,
    actor: Actor,
    patient: Patient,
    old_id: UUID,
    new_id: UUID,
    reason: str,
    now: datetime,
) -> bool:
    """The household goes with its last member registered at the old pharmacy; otherwise both
    pharmacies see it through their own patients."""
    if patient.household_id is None:
        return False
    household = households_repository.by_id(session, patient.household_id, for_update=True)
    if household is None or household.pharmacy_id != old_id:
        return False
    staying = [
        p
        for p in patients_repository.in_household(session, household.id)
        if p.id != patient.id and p.pharmacy_id == old_id
    ]
    if staying:
        return False
    households_service.move_registration(session, actor, household, new_id, reason=reason, now=now)
    return True


def history(uow: UnitOfWork, *, actor: Actor, patient_id: UUID) -> list[Transferred]:
    """The patient's transfers, newest first, for the pharmacy that has the patient now."""
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id)
        found = []
        for moved in session.scalars(
            select(PatientTransfer)
            .where(PatientTransfer.patient_id == patient.id)
            .order_by(PatientTransfer.transferred_at.desc())
        ):
            old = pharmacies_repository.by_id(session, moved.from_pharmacy_id)
            new = pharmacies_repository.by_id(session, moved.to_pharmacy_id)
            assert old is not None
            assert new is not None
            found.append(Transferred(moved, patient, old, new))
        return found
