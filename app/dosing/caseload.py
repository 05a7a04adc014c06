"""A prescriber's or key worker's caseload: attendance, missed streaks, who is blocked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.auth.policy import CLINICIANS, pharmacy_scope
from app.config import PolicySettings
from app.dosing import facts as dosing_facts
from app.dosing.models import DoseState, InstalmentDay
from app.patients.models import Patient
from app.prescriptions.models import Prescription, Status


@dataclass(frozen=True, slots=True)
class CaseloadRow:
    patient: Patient
    attended: int
    missed: int
    withheld: int
    decided: int
    missed_streak: int
    blocked: bool
    prescription_id: UUID | None
    daily_dose_mg: Decimal | None

    @property
    def attended_percent(self) -> int | None:
        return round(100 * self.attended / self.decided) if self.decided else None


def caseload(
    session: Session, actor: Actor, *, today: date, policy: PolicySettings, days: int = 28
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
    start = today - timedelta(days=days)
    counts: dict[UUID, dict[str, int]] = {p.id: {} for p in patients}
    if patients:
        for patient_id, state, n in session.execute(
            select(InstalmentDay.patient_id, InstalmentDay.state, func.count())
            .where(
                InstalmentDay.patient_id.in_(counts),
                InstalmentDay.dose_date >= start,
                InstalmentDay.dose_date < today,
            )
            .group_by(InstalmentDay.patient_id, InstalmentDay.state)
        ):
            counts[patient_id][state] = n
    current = dosing_facts.current_prescriptions(session, list(counts), None, today)
    streaks = dosing_facts.missed_streaks(
        session,
        {(patient_id, rx.product) for patient_id, rx in current.items()},
        through=today - timedelta(days=1),
    )
    rows = []
    for patient in patients:
        c = counts[patient.id]
        prescription = current.get(patient.id)
        streak = streaks[(patient.id, prescription.product)] if prescription else 0
        attended = c.get(DoseState.SUPERVISED, 0) + c.get(DoseState.COLLECTED, 0)
        rows.append(
            CaseloadRow(
                patient=patient,
                attended=attended,
                missed=c.get(DoseState.MISSED, 0),
                withheld=c.get(DoseState.WITHHELD, 0),
                decided=attended + c.get(DoseState.MISSED, 0) + c.get(DoseState.WITHHELD, 0),
                missed_streak=streak,
                blocked=streak >= policy.missed_threshold,
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
