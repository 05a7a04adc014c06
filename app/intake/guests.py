"""Guest dosing: the home pharmacy lets another pharmacy dose the patient for a fixed period (a
holiday, a stay with family), issue 19 §2.

The grant moves the instalments collected in the period to the guest pharmacy's counter: the
ledger rows keep their one-per-patient-per-day unique index (so a day is supplied once, at
one counter, whichever pharmacy tries), their `pharmacy_id` says which counter may hand them
over, and the guest's CD register line, label and close of day follow from it. The home
pharmacy's counter refuses a granted day (`dosed_at_guest_pharmacy`) and its ledger shows the
doses recorded there. The guest pharmacy sees the patient at its counter only
(`patients.repository.load_for_counter`): identity, the day's decision with the household
facts it needs, and the days granted; nothing else of the record. The grant ends by itself
after its last day; ending it early gives the days still due back to the home pharmacy. Every
step is an append-only row and an audit event on both pharmacies' chains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.db import UnitOfWork
from app.dosing import ledger
from app.errors import Conflict, InvalidInput, NotFound
from app.patients import repository as patients_repository
from app.patients.models import GuestGrant, GuestGrantEnd, Patient
from app.pharmacies import repository as pharmacies_repository
from app.pharmacies.models import Pharmacy
from app.prescriptions import repository
from app.prescriptions.models import Prescription, Status

# A stay elsewhere longer than this is a transfer, not a guest (the prescriber writes to the
# other pharmacy): guidance is silent, four weeks covers a long holiday (docs/decisions.md).
MAX_GRANT_DAYS = 28
GRANTERS = {Role.PHARMACIST}


@dataclass(frozen=True, slots=True)
class GrantView:
    """A grant as either pharmacy reads it: the other pharmacy's public identity included."""

    grant: GuestGrant
    ended: GuestGrantEnd | None
    patient: Patient
    home: Pharmacy
    guest: Pharmacy

    def live_on(self, today: date) -> bool:
        return self.ended is None and self.grant.from_date <= today <= self.grant.to_date


def _check_dates(from_date: date, to_date: date, today: date) -> None:
    if from_date < today:
        raise InvalidInput("from_date", "not_in_past", "must be today or a later day")
    if to_date < from_date:
        raise InvalidInput("to_date", "after_start", "must be on or after the first day")
    if (to_date - from_date).days + 1 > MAX_GRANT_DAYS:
        raise InvalidInput(
            "to_date",
            "at_most_28_days",
            f"a guest stay is at most {MAX_GRANT_DAYS} days; for longer, the prescriber writes "
            "to the other pharmacy or the patient transfers",
        )


def _overlapping(
    session: Session, patient_id: UUID, from_date: date, to_date: date
) -> GuestGrant | None:
    return session.scalar(
        select(GuestGrant).where(
            GuestGrant.patient_id == patient_id,
            GuestGrant.from_date <= to_date,
            GuestGrant.to_date >= from_date,
            ~select(GuestGrantEnd.id).where(GuestGrantEnd.grant_id == GuestGrant.id).exists(),
        )
    )


def grant(
    uow: UnitOfWork,
    *,
    actor: Actor,
    prescription_id: UUID,
    guest_ods_code: str,
    from_date: date,
    to_date: date,
    note: str,
    today: date,
    now: datetime,
) -> GrantView:
    """Let the guest pharmacy dose the patient on the collection days from `from_date` to
    `to_date`: those days leave the home counter for the guest's."""
    require_role(actor, GRANTERS, "grant guest dosing")
    _check_dates(from_date, to_date, today)
    if len(note.strip()) < 3:
        raise InvalidInput(
            "note", "required", "say why and where (e.g. a week with family in Leeds)"
        )
    with uow:
        session = uow.session
        prescription = repository.load_visible(session, actor, prescription_id, for_update=True)
        if prescription.status != Status.ACTIVE:
            raise Conflict(
                f"The prescription is {prescription.status}; only an active one can be dosed "
                "elsewhere",
                code="not_active",
            )
        if not (prescription.start_on <= from_date and to_date <= prescription.end_on):
            raise InvalidInput(
                "to_date",
                "within_prescription",
                f"must be within the prescription ({prescription.start_on} to "
                f"{prescription.end_on})",
            )
        guest = pharmacies_repository.by_ods_code(session, guest_ods_code)
        if guest is None:
            raise InvalidInput(
                "guest_ods_code",
                "known_pharmacy",
                "is not a pharmacy using Dosekeeper: check the ODS code, or arrange the supply "
                "with the prescriber",
            )
        if guest.id == prescription.pharmacy_id:
            raise InvalidInput("guest_ods_code", "another_pharmacy", "is this pharmacy")
        patient = patients_repository.load_visible(
            session, actor, prescription.patient_id, for_update=True
        )
        if _overlapping(session, patient.id, from_date, to_date) is not None:
            raise Conflict(
                "The patient already has a guest grant covering some of these days",
                code="overlapping_grant",
            )
        closed = sorted(
            day
            for day in ledger.due_collections(
                session, prescription.id, prescription.pharmacy_id, from_date, to_date
            )
            if not repository.calendar_for(session, guest.id).is_open(day)
        )
        if closed:
            raise InvalidInput(
                "to_date",
                "guest_open",
                f"{guest.name} is closed on {closed[0].strftime('%a %d/%m/%Y')}, a collection "
                "day of the stay: choose days it is open, or ask the prescriber to direct the "
                "collection on another day",
            )
        moved = ledger.move_due_days(
            session,
            prescription.id,
            collect_from=from_date,
            collect_to=to_date,
            from_pharmacy_id=prescription.pharmacy_id,
            to_pharmacy_id=guest.id,
        )
        if moved == 0:
            raise Conflict(
                "No collection still due falls in those days: nothing to dose elsewhere",
                code="nothing_to_grant",
            )
        granted = GuestGrant(
            patient_id=patient.id,
            prescription_id=prescription.id,
            home_pharmacy_id=prescription.pharmacy_id,
            guest_pharmacy_id=guest.id,
            from_date=from_date,
            to_date=to_date,
            note=note.strip(),
            days_granted=moved,
            granted_by_id=actor.id,
            granted_at=now,
        )
        session.add(granted)
        session.flush()
        facts = {
            "grant_id": granted.id,
            "prescription_id": prescription.id,
            "guest_pharmacy_id": guest.id,
            "from": from_date,
            "to": to_date,
            "days": moved,
        }
        # On both chains: the home pharmacy's record, and the guest's, which now doses.
        for pharmacy_id in (prescription.pharmacy_id, guest.id):
            audit_service.record(
                session,
                actor,
                "guest_grant.granted",
                entity="patient",
                entity_id=patient.id,
                at=now,
                pharmacy_id=pharmacy_id,
                facts=facts,
            )
        home = pharmacies_repository.load_visible(session, actor, prescription.pharmacy_id)
        uow.commit()
        return GrantView(granted, None, patient, home, guest)


def keep_granted_days_at_guest(session: Session, prescription: Prescription, today: date) -> int:
    """After days are planned again (a resumption, a newly checked prescription), the days of
    a guest stay still arranged go back to the guest's counter: a stay is not undone by the
    paperwork at home. Returns how many days moved."""
    moved = 0
    for found in patients_repository.open_grants(session, prescription.patient_id, today):
        moved += ledger.move_due_days(
            session,
            prescription.id,
            collect_from=max(found.from_date, today),
            collect_to=found.to_date,
            from_pharmacy_id=prescription.pharmacy_id,
            to_pharmacy_id=found.guest_pharmacy_id,
        )
    return moved


def end(
    uow: UnitOfWork, *, actor: Actor, grant_id: UUID, reason: str, today: date, now: datetime
) -> GrantView:
    """End a grant early: from today the days still due go back to the home pharmacy. Either
    pharmacy's pharmacist may end it (the patient came home, or never arrived)."""
    require_role(actor, GRANTERS, "end guest dosing")
    if len(reason.strip()) < 3:
        raise InvalidInput("reason", "required", "say why it ends early")
    with uow:
        session = uow.session
        found = session.get(GuestGrant, grant_id)
        if found is None or actor.pharmacy_id not in (
            found.home_pharmacy_id,
            found.guest_pharmacy_id,
        ):
            raise NotFound("guest grant", grant_id)
        patient = patients_repository.by_id(session, found.patient_id)
        assert patient is not None
        session.refresh(patient, with_for_update=True)
        view = _view(session, found)
        if view.ended is not None or today > found.to_date:
            raise Conflict("The grant has already ended", code="grant_ended")
        returned = ledger.move_due_days(
            session,
            found.prescription_id,
            collect_from=max(today, found.from_date),
            collect_to=None,
            from_pharmacy_id=found.guest_pharmacy_id,
            to_pharmacy_id=found.home_pharmacy_id,
        )
        ended = GuestGrantEnd(
            grant_id=found.id,
            ended_on=today,
            reason=reason.strip(),
            days_returned=returned,
            ended_by_id=actor.id,
            ended_at=now,
        )
        session.add(ended)
        for pharmacy_id in (found.home_pharmacy_id, found.guest_pharmacy_id):
            audit_service.record(
                session,
                actor,
                "guest_grant.ended",
                entity="patient",
                entity_id=found.patient_id,
                at=now,
                pharmacy_id=pharmacy_id,
                facts={"grant_id": found.id, "days_returned": returned, "reason": reason.strip()},
            )
        uow.commit()
        return GrantView(found, ended, view.patient, view.home, view.guest)


def _view(session: Session, found: GuestGrant) -> GrantView:
    ended = session.scalar(select(GuestGrantEnd).where(GuestGrantEnd.grant_id == found.id))
    patient = patients_repository.by_id(session, found.patient_id)
    home = pharmacies_repository.by_id(session, found.home_pharmacy_id)
    guest = pharmacies_repository.by_id(session, found.guest_pharmacy_id)
    assert patient is not None
    assert home is not None
    assert guest is not None
    return GrantView(found, ended, patient, home, guest)


def for_prescription(uow: UnitOfWork, *, actor: Actor, prescription_id: UUID) -> list[GrantView]:
    """The home pharmacy's view: every grant of the prescription, newest first."""
    with uow:
        session = uow.session
        prescription = repository.load_visible(session, actor, prescription_id)
        grants = session.scalars(
            select(GuestGrant)
            .where(GuestGrant.prescription_id == prescription.id)
            .order_by(GuestGrant.granted_at.desc())
        )
        return [_view(session, g) for g in grants]


def hosted(uow: UnitOfWork, *, actor: Actor, today: date) -> list[GrantView]:
    """The guest pharmacy's view: the patients it doses as a guest, now or from a later day
    (grants over for more than a week drop off the list)."""
    require_role(actor, {Role.PHARMACIST, Role.TECHNICIAN}, "see guest patients")
    if actor.pharmacy_id is None:
        return []
    with uow:
        session = uow.session
        grants = session.scalars(
            select(GuestGrant)
            .where(
                GuestGrant.guest_pharmacy_id == actor.pharmacy_id,
                GuestGrant.to_date >= today - timedelta(days=7),
            )
            .order_by(GuestGrant.from_date, GuestGrant.granted_at)
        )
        return [_view(session, g) for g in grants]
