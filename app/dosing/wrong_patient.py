"""Correcting a supervised dose recorded against the wrong patient (split from
`app.dosing.corrections`, which corrects a late dose and builds the correction rows).

A dose recorded against the wrong patient: the pharmacist picked one patient on the screen and
gave the dose to another (both on supervised doses today, each given their own measured dose).
Usually found when the first patient arrives and the counter says "already recorded". The first
patient's day goes back to due (once, through the database's own check), with the register's
supply line corrected; the second's is recorded as supervised, with its own register line. The
counter's checks never ran for the second patient, so they run now: if they would have refused
the dose, the prescriber and key worker are alerted urgently. Same day only; a dose measured for
one patient and swallowed by another is a dispensing incident, not a record to correct here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_safety_act
from app.config import PolicySettings
from app.db import UnitOfWork, retrying
from app.dosing import counter as dosing_counter
from app.dosing import ledger
from app.dosing import rules as dosing_rules
from app.dosing.corrections import correction_row
from app.dosing.models import DoseCorrection, DoseState, InstalmentDay, Mode
from app.errors import Conflict, InvalidInput
from app.patients import repository as patients_repository
from app.patients.models import Patient
from app.register import corrections as register_corrections
from app.register import supplies as register_supplies
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service

# The two halves of a wrong-patient correction: the dose leaves one record, joins another.
RECORDED_AGAINST_WRONG_PATIENT = "wrong_patient_removed"
TAKEN_BY_THIS_PATIENT = "wrong_patient_added"


@dataclass(frozen=True, slots=True)
class WrongPatient:
    recorded_patient_id: UUID  # the patient the dose was recorded against, who did not take it
    taken_by_patient_id: UUID  # the patient who swallowed it (their own dose)
    day: date
    reason: str
    own_dose_given: bool  # attestation: the dose given was the second patient's own
    not_intoxicated: bool  # attestation: the second patient was fit to take it


@dataclass(frozen=True, slots=True)
class Reattributed:
    removed: DoseCorrection
    added: DoseCorrection
    unchecked_blocks: list[dict[str, str]]
    alerts: list[str]


def _check_wrong_patient(wrong: WrongPatient, today: date) -> None:
    if wrong.recorded_patient_id == wrong.taken_by_patient_id:
        raise InvalidInput(
            "taken_by_patient_id",
            "different_patient",
            "must be a different patient from the one the dose was recorded against",
        )
    if not wrong.own_dose_given:
        raise InvalidInput(
            "own_dose_given",
            "dispensing_incident",
            "if the dose given was measured for the other patient, this is a dispensing "
            "incident: do not correct the record here; tell the prescriber and report it as "
            "a patient safety incident",
        )
    if not wrong.not_intoxicated:
        raise InvalidInput(
            "not_intoxicated",
            "attestation_required",
            "confirm the patient who took the dose was not intoxicated",
        )
    if len(wrong.reason.strip()) < 3:
        raise InvalidInput("reason", "required", "say how the dose came to be recorded wrongly")
    if wrong.day != today:
        raise InvalidInput(
            "date",
            "same_day_only",
            "a dose recorded against the wrong patient can be corrected on the day only; after "
            "that, record what happened in both patients' notes, correct the CD register and "
            "tell both prescribers",
        )


def _locked_pair(session: Session, actor: Actor, wrong: WrongPatient) -> tuple[Patient, Patient]:
    """Both patients, locked in id order (the lock order every writer keeps)."""
    locked = {
        patient_id: patients_repository.load_visible(session, actor, patient_id, for_update=True)
        for patient_id in sorted((wrong.recorded_patient_id, wrong.taken_by_patient_id), key=str)
    }
    return locked[wrong.recorded_patient_id], locked[wrong.taken_by_patient_id]


def _supervised_day(
    session: Session, patient: Patient, day: date, states: tuple[str, ...]
) -> InstalmentDay | None:
    return session.scalar(
        select(InstalmentDay).where(
            InstalmentDay.patient_id == patient.id,
            InstalmentDay.dose_date == day,
            InstalmentDay.mode == Mode.SUPERVISED,
            InstalmentDay.state.in_(states),
            InstalmentDay.correction_id.is_(None),
        )
    )


@retrying
def record_wrong_patient(
    uow: UnitOfWork,
    *,
    actor: Actor,
    wrong: WrongPatient,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> Reattributed:
    """Move a supervised dose recorded against one patient to the patient who took it."""
    require_safety_act(actor, "correct_dose_record")
    _check_wrong_patient(wrong, today)
    reason = wrong.reason.strip()
    with uow:
        session = uow.session
        recorded, taker = _locked_pair(session, actor, wrong)
        wrong_row = _supervised_day(session, recorded, wrong.day, (DoseState.SUPERVISED,))
        if wrong_row is None or wrong_row.handover_id is None:
            raise Conflict(
                "No supervised dose is recorded today against the first patient to move",
                code="nothing_to_correct",
            )
        # The second patient's checks, as the counter would have run them before the dose.
        view = dosing_counter.views(
            session,
            actor,
            [taker],
            product=None,
            today=today,
            intoxicated=False,
            policy=policy,
        )[0]
        taker_row = _supervised_day(session, taker, wrong.day, (DoseState.DUE, DoseState.MISSED))
        if taker_row is None:
            raise Conflict(
                "The second patient has no supervised dose due today: if they took a dose they "
                "were not prescribed, it is a dispensing incident to report, not a record to "
                "correct",
                code="nothing_to_correct",
            )
        unchecked = [
            b for b in view.decision.blocks if b.code != dosing_rules.Code.ALREADY_RECORDED
        ]
        given_at = wrong_row.recorded_at or now
        removed = correction_row(
            RECORDED_AGAINST_WRONG_PATIENT, wrong_row, DoseState.DUE, given_at, reason, actor, now
        )
        added = correction_row(
            TAKEN_BY_THIS_PATIENT, taker_row, DoseState.SUPERVISED, given_at, reason, actor, now
        )
        session.add_all([removed, added])
        session.flush()
        original_handover = wrong_row.handover_id
        _move(
            session,
            wrong_row,
            DoseState.SUPERVISED,
            {
                "state": DoseState.DUE,
                "correction_id": removed.id,
                "handover_id": None,
                "recorded_by_id": None,
                "recorded_at": None,
                "collector": None,
                "collector_details": None,
                "id_asked": None,
                "id_shown": None,
                "children_present": None,
                "decision": None,
            },
        )
        _move(
            session,
            taker_row,
            taker_row.state,
            {
                "state": DoseState.SUPERVISED,
                "correction_id": added.id,
                "handover_id": uuid4(),
                "recorded_by_id": actor.id,
                "recorded_at": given_at,
                "collector": "patient",
                "decision": {
                    "correction": TAKEN_BY_THIS_PATIENT,
                    "corrected_at": now.isoformat(),
                    "unchecked": [str(b.code) for b in unchecked],
                },
            },
        )
        _register_moved(
            session,
            actor,
            original_handover,
            recorded,
            taker,
            taker_row,
            reason,
            today,
            now,
            policy,
        )
        events = safeguarding_rules.unchecked_dose_events(blocks=[str(b.code) for b in unchecked])
        raised = safeguarding_service.raise_alerts(
            session,
            [
                safeguarding_service.Raise(event, taker.pharmacy_id, taker.id, taker.household_id)
                for event in events
            ],
            actor=actor,
            day=today,
            now=now,
            routing=policy.alert_routing,
        )
        alerts = [str(alert.id) for alert in raised]
        for patient, correction in ((recorded, removed), (taker, added)):
            audit_service.record(
                session,
                actor,
                "dose.corrected",
                entity="patient",
                entity_id=patient.id,
                at=now,
                pharmacy_id=patient.pharmacy_id,
                facts={
                    "correction_id": correction.id,
                    "kind": correction.kind,
                    "dose_date": correction.dose_date,
                    "from": correction.from_state,
                    "to": correction.to_state,
                    "unchecked": [str(b.code) for b in unchecked],
                },
            )
        uow.commit()
        return Reattributed(removed, added, dosing_counter.reasons(unchecked), alerts)


def _move(session: Session, row: InstalmentDay, expected: str, values: dict[str, object]) -> None:
    ledger.change_day(session, row.id, expected=expected, values=values)
    session.flush()
    session.refresh(row)


def _register_moved(
    session: Session,
    actor: Actor,
    original_handover: UUID,
    recorded: Patient,
    taker: Patient,
    taker_row: InstalmentDay,
    reason: str,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> None:
    """The register says what left the cupboard and for whom: the first patient's line is
    corrected (the quantity comes back to the balance), the second's supply line is written."""
    original = register_supplies.supply_for_handover(session, original_handover)
    if original is not None:
        register_corrections.append_correction(
            session,
            actor=actor,
            original=original,
            change_ml=original.quantity_ml,
            reason=f"Recorded against the wrong patient: the dose was not supplied to "
            f"{recorded.given_name} {recorded.family_name}. {reason}",
            today=today,
            now=now,
        )
    register_supplies.record_supply(
        session,
        actor=actor,
        patient=taker,
        prescription_id=taker_row.prescription_id,
        rows=[taker_row],
        today=today,
        now=now,
        routing=policy.alert_routing,
    )
