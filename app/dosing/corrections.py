"""Corrections of the dose ledger: the record was wrong, and a pharmacist says what really
happened, with the reason. The original stays visible (the correction row, the audit log);
nothing is deleted.

A late dose: close of day marked a supervised day missed, but the patient came in late that
evening and swallowed the dose in front of the pharmacist (the close ran early, or the supply
was not recorded before it). Left uncorrected, that day counts toward the days without a dose
(a false block, false alerts to the prescriber and the social worker) and the CD register is
short of a supply. The correction makes the day supervised, writes the register line dated
the day of supply, and resolves the alerts that day's close raised about it.

Only up to the end of the next day, and only for the day's own supervised dose: a later or
wider change is not a correction a pharmacist makes at the counter (docs/decisions.md).

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
from datetime import date, datetime, time, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_safety_act
from app.config import PolicySettings
from app.db import UnitOfWork, retrying
from app.dosing import counter as dosing_counter
from app.dosing import rules as dosing_rules
from app.dosing.models import DoseCorrection, DoseState, InstalmentDay, Mode
from app.errors import Conflict, InvalidInput
from app.patients import service as patients_service
from app.patients.models import Patient
from app.register import service as register_service
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service

LATE_DOSE = "late_dose"
# The two halves of a wrong-patient correction: the dose leaves one record, joins another.
RECORDED_AGAINST_WRONG_PATIENT = "wrong_patient_removed"
TAKEN_BY_THIS_PATIENT = "wrong_patient_added"
# The alerts a missed day raises at close of day; a corrected day resolves those it caused.
MISSED_DAY_ALERTS = ("missed_dose", "missed_threshold_reached")


@dataclass(frozen=True, slots=True)
class Corrected:
    correction: DoseCorrection
    alerts_resolved: int


@dataclass(frozen=True, slots=True)
class LateDose:
    patient_id: UUID
    day: date
    given_at: time  # the local time the patient swallowed the dose
    reason: str
    not_intoxicated: bool


def _correction(
    kind: str,
    row: InstalmentDay,
    to_state: str,
    given_at: datetime,
    reason: str,
    actor: Actor,
    now: datetime,
) -> DoseCorrection:
    """The correction row for one ledger row leaving its recorded state (append-only)."""
    return DoseCorrection(
        kind=kind,
        instalment_day_id=row.id,
        patient_id=row.patient_id,
        pharmacy_id=row.pharmacy_id,
        dose_date=row.dose_date,
        from_state=row.state,
        to_state=to_state,
        given_at=given_at,
        reason=reason,
        corrected_by_id=actor.id,
        corrected_at=now,
    )


def _check(late: LateDose, today: date) -> None:
    if not late.not_intoxicated:
        raise InvalidInput(
            "not_intoxicated",
            "attestation_required",
            "confirm the patient was not intoxicated when you gave the dose",
        )
    if len(late.reason.strip()) < 3:
        raise InvalidInput("reason", "required", "say why the day was marked missed")
    if late.day > today:
        raise InvalidInput("date", "not_in_future", "a dose cannot be recorded for a future day")
    if late.day < today - timedelta(days=1):
        raise InvalidInput(
            "date",
            "too_late_to_correct",
            "a missed mark can be corrected until the end of the next day; after that, record "
            "what happened in the patient's notes and tell the prescriber",
        )


def _refuse_take_home(session: Session, patient_id: UUID, day: date) -> None:
    """A take-home collection marked missed is not corrected after the fact: a take-home needs
    the checks of a handover (lockable box, children, measuring device, a label for each
    container) that were never made, so recording one late would say they were (decisions.md)."""
    missed_take_home = session.scalar(
        select(InstalmentDay.id).where(
            InstalmentDay.patient_id == patient_id,
            InstalmentDay.collect_on == day,
            InstalmentDay.state == DoseState.MISSED,
            InstalmentDay.mode == Mode.TAKE_HOME,
        )
    )
    if missed_take_home is not None:
        raise Conflict(
            "A take-home collection marked missed cannot be recorded after close of day: the "
            "checks a take-home needs (lockable box, children, label) were never made. If the "
            "bottle did go home, record what happened in the patient's notes, enter the supply "
            "as a correction in the CD register and tell the prescriber; otherwise the patient "
            "collects what the prescription still allows at the next visit.",
            code="take_home_not_correctable",
        )


@retrying
def record_late_dose(
    uow: UnitOfWork,
    *,
    actor: Actor,
    late: LateDose,
    today: date,
    now: datetime,
    timezone: str,
    policy: PolicySettings,
) -> Corrected:
    """Correct a day marked missed whose supervised dose the patient took late that evening."""
    require_safety_act(actor, "correct_dose_record")
    _check(late, today)
    given_at = datetime.combine(late.day, late.given_at, tzinfo=ZoneInfo(timezone))
    if given_at > now:
        raise InvalidInput("given_at", "not_in_future", "the time given is still to come")
    with uow:
        session = uow.session
        patient = patients_service.load_visible(session, actor, late.patient_id, for_update=True)
        row = session.scalar(
            select(InstalmentDay).where(
                InstalmentDay.patient_id == patient.id,
                InstalmentDay.dose_date == late.day,
                InstalmentDay.state == DoseState.MISSED,
                InstalmentDay.mode == Mode.SUPERVISED,
                InstalmentDay.correction_id.is_(None),
            )
        )
        if row is None:
            _refuse_take_home(session, patient.id, late.day)
            raise Conflict(
                "This patient has no supervised dose marked missed on that day to correct",
                code="nothing_to_correct",
            )
        correction = _correction(
            LATE_DOSE, row, DoseState.SUPERVISED, given_at, late.reason.strip(), actor, now
        )
        session.add(correction)
        session.flush()
        handover_id = uuid4()
        session.execute(
            update(InstalmentDay)
            .where(InstalmentDay.id == row.id, InstalmentDay.state == DoseState.MISSED)
            .values(
                state=DoseState.SUPERVISED,
                correction_id=correction.id,
                handover_id=handover_id,
                recorded_by_id=actor.id,
                recorded_at=given_at,
                collector="patient",
                decision={"correction": LATE_DOSE, "corrected_at": now.isoformat()},
            )
            .execution_options(synchronize_session=False)
        )
        session.flush()
        session.refresh(row)
        resolved = safeguarding_service.resolve_for_patient(
            session,
            actor=actor,
            patient_id=patient.id,
            kinds=MISSED_DAY_ALERTS,
            why=f"The day marked missed ({late.day.isoformat()}) was corrected: the patient "
            f"took the dose under supervision at {late.given_at.strftime('%H:%M')}.",
            now=now,
            # Those the corrected day caused: raised at its close, or since.
            raised_since=datetime.combine(late.day, time(0), tzinfo=ZoneInfo(timezone)),
            cause=LATE_DOSE,
        )
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
                "kind": LATE_DOSE,
                "dose_date": row.dose_date,
                "from": DoseState.MISSED,
                "to": DoseState.SUPERVISED,
                "given_at": given_at,
                "alerts_resolved": resolved,
            },
        )
        register_service.record_supply(
            session,
            actor=actor,
            patient=patient,
            prescription_id=row.prescription_id,
            rows=[row],
            today=today,
            now=now,
            routing=policy.alert_routing,
            supplied_on=row.dose_date,
        )
        uow.commit()
        return Corrected(correction, resolved)


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
        patient_id: patients_service.load_visible(session, actor, patient_id, for_update=True)
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
        removed = _correction(
            RECORDED_AGAINST_WRONG_PATIENT, wrong_row, DoseState.DUE, given_at, reason, actor, now
        )
        added = _correction(
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
    changed = session.execute(
        update(InstalmentDay)
        .where(InstalmentDay.id == row.id, InstalmentDay.state == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        raise Conflict(
            "This dose was recorded a moment ago at another terminal", code="already_recorded"
        )
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
    original = register_service.supply_for_handover(session, original_handover)
    if original is not None:
        register_service.append_correction(
            session,
            actor=actor,
            original=original,
            change_ml=original.quantity_ml,
            reason=f"Recorded against the wrong patient: the dose was not supplied to "
            f"{recorded.given_name} {recorded.family_name}. {reason}",
            today=today,
            now=now,
        )
    register_service.record_supply(
        session,
        actor=actor,
        patient=taker,
        prescription_id=taker_row.prescription_id,
        rows=[taker_row],
        today=today,
        now=now,
        routing=policy.alert_routing,
    )
