"""A prescriber's or key worker's caseload: attendance, missed streaks, who is blocked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.auth.policy import CLINICIANS, pharmacy_scope
from app.config import PolicySettings
from app.dosing import facts as dosing_facts
from app.dosing import gather as dosing_gather
from app.dosing import rules
from app.dosing.models import InstalmentDay
from app.patients.models import Patient
from app.prescriptions.models import Prescription, Status
from app.reports.adherence import ledger_summary


@dataclass(frozen=True, slots=True)
class CaseloadRow:
    patient: Patient
    attended: int
    missed: int
    withheld: int
    not_dispensed: int
    decided: int
    # Consecutive days without a dose taken before today (missed, withheld, not dispensed).
    missed_streak: int
    blocked: bool
    prescription_id: UUID | None
    daily_dose_mg: Decimal | None

    @property
    def attended_percent(self) -> int | None:
        return round(100 * self.attended / self.decided) if self.decided else None


def summary_window(today: date, days: int = 28) -> tuple[date, date]:
    """The days the caseload's figures (and the patient page's summary) cover: the last
    `days` days that have ended."""
    return today - timedelta(days=days), today - timedelta(days=1)


def caseload(
    session: Session,
    actor: Actor,
    *,
    today: date,
    policy: PolicySettings,
    days: int = 28,
    timezone: str = "Europe/London",
) -> list[CaseloadRow]:
    query = select(Patient)
    if actor.role in CLINICIANS:
        query = query.where(
            or_(
                Patient.key_worker_id == actor.contact_id, Patient.prescriber_id == actor.contact_id
            )
        )
    elif (scope := pharmacy_scope(actor)) is not None:
        query = query.where(Patient.pharmacy_id == scope)
    patients = list(
        session.scalars(query.order_by(Patient.family_name, Patient.given_name).limit(500))
    )
    start, end = summary_window(today, days)
    ledgers: dict[UUID, list[InstalmentDay]] = {p.id: [] for p in patients}
    if patients:
        for row in session.scalars(
            select(InstalmentDay)
            .where(
                InstalmentDay.patient_id.in_(ledgers),
                InstalmentDay.dose_date >= start,
                InstalmentDay.dose_date <= end,
            )
            .order_by(InstalmentDay.dose_date)
        ):
            ledgers[row.patient_id].append(row)
    counts = {patient_id: ledger_summary(rows, timezone) for patient_id, rows in ledgers.items()}
    current = dosing_gather.current_prescriptions(session, list(counts), None, today)
    lapsed = dosing_facts.lapses(
        session,
        {(patient_id, rx.product) for patient_id, rx in current.items()},
        through=today - timedelta(days=1),
    )
    rows = []
    for patient in patients:
        c = counts[patient.id]
        prescription = current.get(patient.id)
        streak = lapsed[(patient.id, prescription.product)].days if prescription else 0
        attended = c["supervised"] + c["collected"]
        rows.append(
            CaseloadRow(
                patient=patient,
                attended=attended,
                missed=c["missed"],
                withheld=c["withheld"],
                not_dispensed=c["not_dispensed"],
                decided=attended + c["missed"] + c["withheld"],
                missed_streak=streak,
                blocked=streak
                >= rules.threshold_for(
                    prescription.wording_consult_after_3_missed if prescription else False,
                    policy.missed_threshold_for(
                        dosing_facts.drug_of(prescription.product) if prescription else ""
                    ),
                ),
                prescription_id=prescription.id
                if prescription and prescription.status == Status.ACTIVE
                else None,
                daily_dose_mg=prescription.daily_dose_mg if prescription else None,
            )
        )
    return rows


def prescriptions_of(session: Session, patient_id: UUID) -> list[Prescription]:
    return list(
        session.scalars(
            select(Prescription)
            .where(Prescription.patient_id == patient_id)
            .order_by(Prescription.start_on)
        )
    )
