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

A dose recorded against the wrong patient is corrected in `app.dosing.wrong_patient`, with
the correction row built here (`correction_row`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_safety_act
from app.config import PolicySettings
from app.db import UnitOfWork, retrying
from app.dosing import ledger
from app.dosing.models import DoseCorrection, DoseState, InstalmentDay, Mode
from app.errors import Conflict, InvalidInput
from app.patients import repository as patients_repository
from app.register import supplies as register_supplies
from app.safeguarding import acknowledgement

LATE_DOSE = "late_dose"
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


def correction_row(
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
        patient = patients_repository.load_visible(session, actor, late.patient_id, for_update=True)
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
        correction = correction_row(
            LATE_DOSE, row, DoseState.SUPERVISED, given_at, late.reason.strip(), actor, now
        )
        session.add(correction)
        session.flush()
        handover_id = uuid4()
        ledger.change_day(
            session,
            row.id,
            expected=DoseState.MISSED,
            values={
                "state": DoseState.SUPERVISED,
                "correction_id": correction.id,
                "handover_id": handover_id,
                "recorded_by_id": actor.id,
                "recorded_at": given_at,
                "collector": "patient",
                "decision": {"correction": LATE_DOSE, "corrected_at": now.isoformat()},
            },
        )
        session.flush()
        session.refresh(row)
        resolved = acknowledgement.resolve_for_patient(
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
        register_supplies.record_supply(
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
