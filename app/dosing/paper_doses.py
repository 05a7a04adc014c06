"""Doses given on paper during an outage, entered once the system is back (docs/downtime.md).

While the network or the database was down the counter dosed from the printed sheet and wrote
the time and initials beside each dose. Afterwards a pharmacist enters the whole sheet at once.
Each line is checked as the counter would have decided that day, from the record as it now
stands (with the sheet's earlier lines already in it, because they are entered in time order):

- a day still due is recorded the usual way, dated and timed as on the sheet; a day a close of
  day marked missed meanwhile is corrected (a correction row, the missed-day alerts resolved);
- a day already supplied is a **double supply**: the ledger keeps its one dose per day, the
  paper entry and the CD register keep the second (the methadone left the cupboard), and the
  prescriber and key worker are alerted urgently;
- a supply the counter would have refused that day (the days-without-a-dose threshold, a
  withhold, no lockable box, a suspended prescription, no dose due) is recorded as given and
  alerted the same way: the record says what happened, and someone acts on it today.

Every line is a `PaperDose` row (append-only) with the sheet's reference, who gave it, who
entered it and when, and what the record made of it; the ledger row names it in `decision`.
One sheet is one transaction: a refused line (a typo, a time still to come) leaves nothing
half-entered, and entering the same sheet again is refused line by line (`already_entered`),
never mistaken for a double supply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role, require_safety_act
from app.config import PolicySettings
from app.db import UnitOfWork, retrying
from app.dosing import counter as dosing_counter
from app.dosing import paper_lines
from app.dosing.models import (
    PaperDose,
    PaperOutcome,
)
from app.errors import Conflict, InvalidInput, NotFound
from app.kit import new_id
from app.patients import repository as patients_repository
from app.patients.models import Patient

MAX_LINES = 500


@dataclass(frozen=True, slots=True)
class PaperEntry:
    """One line of the outage sheet: what happened to one patient's dose that day."""

    patient_id: UUID
    day: date
    outcome: str  # supervised | collected | withheld
    given_at: time  # the local time written on the sheet
    given_by: str  # the initials written on the sheet
    note: str = ""


@dataclass(frozen=True, slots=True)
class Entered:
    entry: PaperDose
    alerts: list[str]


def _check(
    reference: str,
    entries: Sequence[PaperEntry],
    *,
    today: date,
    now: datetime,
    timezone: str,
    policy: PolicySettings,
) -> None:
    if not 3 <= len(reference.strip()) <= 80:
        raise InvalidInput(
            "sheet_reference",
            "required",
            "give the reference printed on the sheet (or how to find the sheet), 3 to 80 "
            "characters",
        )
    if not entries:
        raise InvalidInput("entries", "required", "enter at least one dose from the sheet")
    if len(entries) > MAX_LINES:
        raise InvalidInput("entries", "too_many", f"enter at most {MAX_LINES} lines at once")
    earliest = date.fromordinal(today.toordinal() - policy.paper_entry_days)
    seen: set[tuple[UUID, date, str]] = set()
    for index, entry in enumerate(entries):
        if entry.outcome not in set(PaperOutcome):
            raise InvalidInput(
                paper_lines.field_of(index, "outcome"),
                "known_outcome",
                "is supervised, collected or withheld",
            )
        if not entry.given_by.strip():
            raise InvalidInput(
                paper_lines.field_of(index, "given_by"),
                "required",
                "write the initials from the sheet",
            )
        if entry.day > today:
            raise InvalidInput(
                paper_lines.field_of(index, "date"),
                "not_in_future",
                "a dose cannot be given on a future day",
            )
        if entry.day < earliest:
            raise InvalidInput(
                paper_lines.field_of(index, "date"),
                "too_old",
                f"doses from paper can be entered up to {policy.paper_entry_days} days back; "
                "for an older sheet, correct the CD register and tell the prescriber",
            )
        if datetime.combine(entry.day, entry.given_at, tzinfo=ZoneInfo(timezone)) > now:
            raise InvalidInput(
                paper_lines.field_of(index, "given_at"), "not_in_future", "is still to come"
            )
        key = (entry.patient_id, entry.day, entry.outcome)
        if key in seen:
            raise InvalidInput(
                paper_lines.field_of(index, "patient_id"),
                "once_per_sheet",
                "this patient's dose that day is already on this sheet",
            )
        seen.add(key)


@retrying
def enter_sheet(
    uow: UnitOfWork,
    *,
    actor: Actor,
    sheet_reference: str,
    entries: Sequence[PaperEntry],
    today: date,
    now: datetime,
    timezone: str,
    policy: PolicySettings,
) -> list[Entered]:
    """Enter every line of an outage sheet, in time order, in one transaction."""
    # A pharmacist's act, as every correction of the dose record is.
    require_safety_act(actor, "correct_dose_record")
    # One sheet is one reference however it is typed: spaces collapsed here, and compared
    # without regard to case when a line is checked for having been entered already.
    reference = " ".join(sheet_reference.split())
    _check(reference, entries, today=today, now=now, timezone=timezone, policy=policy)
    with uow:
        session = uow.session
        # Every patient locked first, in id order: the lock order every writer keeps. A guest
        # patient dosed on paper here is this counter's on the days granted.
        first_day = {
            e.patient_id: min(x.day for x in entries if x.patient_id == e.patient_id)
            for e in entries
        }
        patients = {
            patient_id: patients_repository.load_for_counter(
                session, actor, patient_id, first_day[patient_id], for_update=True
            )
            for patient_id in sorted(first_day, key=str)
        }
        ordered = sorted(enumerate(entries), key=lambda pair: (pair[1].day, pair[1].given_at))
        entered = [
            _enter(
                session,
                actor,
                patients[entry.patient_id],
                entry,
                index=index,
                reference=reference,
                today=today,
                now=now,
                timezone=timezone,
                policy=policy,
            )
            for index, entry in ordered
        ]
        uow.commit()
        return entered


def _enter(
    session: Session,
    actor: Actor,
    patient: Patient,
    entry: PaperEntry,
    *,
    index: int,
    reference: str,
    today: date,
    now: datetime,
    timezone: str,
    policy: PolicySettings,
) -> Entered:
    if not patients_repository.visible_to(actor, patient) and (
        actor.pharmacy_id is None
        or patients_repository.live_grant(session, patient.id, actor.pharmacy_id, entry.day) is None
    ):
        # A guest pharmacy enters the days granted to it, and no others.
        raise NotFound("patient", patient.id)
    given_at = datetime.combine(entry.day, entry.given_at, tzinfo=ZoneInfo(timezone))
    already = session.scalar(
        select(PaperDose.sheet_reference).where(
            PaperDose.patient_id == patient.id,
            PaperDose.dose_date == entry.day,
            or_(
                and_(
                    PaperDose.outcome == entry.outcome,
                    func.upper(PaperDose.sheet_reference) == reference.upper(),
                ),
                # The same time and initials from any sheet: the same line typed again (a
                # reference or outcome mistyped), never a second supply.
                and_(
                    PaperDose.given_at == given_at,
                    func.upper(PaperDose.given_by) == entry.given_by.strip().upper(),
                ),
            ),
        )
    )
    if already is not None:
        raise Conflict(
            f"This line was entered already from sheet {already} ({entry.day}, given at "
            f"{entry.given_at.strftime('%H:%M')} by {entry.given_by.strip()}); nothing on "
            "this sheet was entered again. A second dose that day has its own time and "
            "initials on the sheet",
            code="already_entered",
            field=paper_lines.field_of(index, "patient_id"),
        )
    # The counter's decision for that day, from the record as it stands now.
    view = dosing_counter.views(
        session, actor, [patient], product=None, today=entry.day, intoxicated=False, policy=policy
    )[0]
    paper = PaperDose(
        id=new_id(),
        # The counter that gave it: the guest pharmacy's for a patient staying nearby.
        pharmacy_id=actor.pharmacy_id or patient.pharmacy_id,
        patient_id=patient.id,
        prescription_id=view.prescription_id,
        dose_date=entry.day,
        outcome=entry.outcome,
        given_at=given_at,
        given_by=entry.given_by.strip()[:80],
        sheet_reference=reference,
        note=entry.note.strip(),
        entered_by_id=actor.id,
        entered_at=now,
    )
    if entry.outcome == PaperOutcome.WITHHELD:
        alerts = paper_lines.record_withheld(
            session, actor, patient, view, paper, index=index, now=now, policy=policy
        )
    else:
        alerts = paper_lines.record_supplied(
            session,
            actor,
            patient,
            view,
            paper,
            index=index,
            today=today,
            now=now,
            timezone=timezone,
            policy=policy,
        )
    session.add(paper)
    session.flush()
    audit_service.record(
        session,
        actor,
        "dose.entered_from_paper",
        entity="patient",
        entity_id=patient.id,
        at=now,
        pharmacy_id=patient.pharmacy_id,
        facts={
            "paper_dose_id": paper.id,
            "sheet_reference": reference,
            "dose_date": entry.day,
            "outcome": entry.outcome,
            "given_at": given_at,
            "findings": list(paper.findings),
            "blocks": list(paper.blocks),
        },
    )
    return Entered(paper, alerts)


@dataclass(frozen=True, slots=True)
class EnteredLine:
    dose: PaperDose
    patient_name: str  # "Family, Given", as on the sheet


def entered_on(uow: UnitOfWork, *, actor: Actor, day: date) -> list[EnteredLine]:
    """The doses entered from paper for a day at the actor's pharmacy, in the time given."""
    require_role(actor, dosing_counter.COUNTER, "read the doses entered from paper")
    with uow:
        if actor.pharmacy_id is None:
            return []
        return [
            EnteredLine(dose, f"{family}, {given}")
            for dose, family, given in uow.session.execute(
                select(PaperDose, Patient.family_name, Patient.given_name)
                .join(Patient, Patient.id == PaperDose.patient_id)
                .where(PaperDose.pharmacy_id == actor.pharmacy_id, PaperDose.dose_date == day)
                .order_by(PaperDose.given_at, PaperDose.id)
            )
        ]
