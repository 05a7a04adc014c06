"""The caseload report (`GET /reports/caseload`, JSON and CSV): adherence over a chosen period
for every patient who names the caller as key worker or prescriber, with totals.

A use case of its own, apart from `app.reports.caseload` (the prescriber's page: today's
attendance, missed streaks and who is blocked), because it reads a period of the ledger, the
active prescriptions and open alerts and logs one read per patient shown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import func, or_, select

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import CLINICIANS, require_role
from app.clock import local_date
from app.db import UnitOfWork
from app.dosing.models import InstalmentDay
from app.errors import PermissionDenied
from app.patients.models import Patient
from app.pharmacies.models import Pharmacy
from app.prescriptions.models import Prescription, Status
from app.reports import rules
from app.reports.period import check_period
from app.safeguarding.models import Alert, AlertState


@dataclass(frozen=True, slots=True)
class CaseloadRow:
    patient: Patient
    pharmacy_name: str
    product: str | None
    daily_dose_mg: Decimal | None
    summary: rules.AdherenceSummary
    open_alerts: int


@dataclass(frozen=True, slots=True)
class Caseload:
    start: date
    end: date
    rows: list[CaseloadRow]
    totals: dict[str, Any]


def caseload(
    uow: UnitOfWork,
    *,
    actor: Actor,
    start: date,
    end: date,
    now: datetime,
    timezone: str = "Europe/London",
) -> Caseload:
    """Adherence of every patient who names the caller as key worker or prescriber."""
    require_role(actor, CLINICIANS, "see a caseload report")
    if actor.contact_id is None:
        raise PermissionDenied("Your account is not linked to a prescriber or key worker contact")
    check_period(start, end)
    with uow:
        session = uow.session
        patients = list(
            session.scalars(
                select(Patient)
                .where(
                    or_(
                        Patient.key_worker_id == actor.contact_id,
                        Patient.prescriber_id == actor.contact_id,
                    )
                )
                .order_by(Patient.family_name, Patient.given_name, Patient.id)
            )
        )
        ids = [p.id for p in patients]
        days: dict[UUID, list[rules.LedgerDay]] = defaultdict(list)
        prescriptions: dict[UUID, Prescription] = {}
        open_alerts: dict[UUID, int] = {}
        pharmacies: dict[UUID, str] = {}
        if ids:
            for patient_id, dose_date, state, recorded_at, handover_id in session.execute(
                select(
                    InstalmentDay.patient_id,
                    InstalmentDay.dose_date,
                    InstalmentDay.state,
                    InstalmentDay.recorded_at,
                    InstalmentDay.handover_id,
                ).where(
                    InstalmentDay.patient_id.in_(ids),
                    InstalmentDay.dose_date >= start,
                    InstalmentDay.dose_date <= end,
                )
            ):
                days[patient_id].append(
                    rules.LedgerDay(
                        dose_date,
                        state,
                        local_date(recorded_at, timezone) if recorded_at else None,
                        str(handover_id) if handover_id else None,
                    )
                )
            for rx in session.scalars(
                select(Prescription)
                .where(
                    Prescription.patient_id.in_(ids),
                    Prescription.status == Status.ACTIVE,
                    Prescription.start_on <= end,
                )
                .order_by(Prescription.start_on)
            ):
                prescriptions[rx.patient_id] = rx  # the latest started wins
            for alert_patient, count in session.execute(
                select(Alert.patient_id, func.count())
                .where(
                    Alert.patient_id.in_(ids),
                    Alert.state.in_((AlertState.OPEN, AlertState.ESCALATED)),
                )
                .group_by(Alert.patient_id)
            ):
                if alert_patient is not None:
                    open_alerts[alert_patient] = count
            for pharmacy_id, pharmacy_name in session.execute(
                select(Pharmacy.id, Pharmacy.name).where(
                    Pharmacy.id.in_({p.pharmacy_id for p in patients})
                )
            ):
                pharmacies[pharmacy_id] = pharmacy_name
        # One read event per patient shown (DSPT access logging), appended in one go.
        audit_service.record_many(
            session,
            actor,
            [
                audit_service.Entry(
                    "report.caseload_viewed",
                    "patient",
                    patient.id,
                    now,
                    patient.pharmacy_id,
                    {"from": start, "to": end},
                )
                for patient in patients
            ],
        )
        uow.commit()
    rows = [
        CaseloadRow(
            patient=p,
            pharmacy_name=pharmacies.get(p.pharmacy_id, ""),
            product=prescriptions[p.id].product if p.id in prescriptions else None,
            daily_dose_mg=prescriptions[p.id].daily_dose_mg if p.id in prescriptions else None,
            summary=rules.summarise_adherence(days[p.id]),
            open_alerts=open_alerts.get(p.id, 0),
        )
        for p in patients
    ]
    totals = {
        key: sum(getattr(r.summary, key) for r in rows)
        for key in (
            "supervised",
            "collected",
            "take_home_collections",
            "missed",
            "withheld",
            "not_dispensed",
            "due",
        )
    }
    attended = totals["supervised"] + totals["collected"]
    totals["patients"] = len(rows)
    totals["attended_percent"] = rules.percent(
        attended, attended + totals["missed"] + totals["withheld"] + totals["not_dispensed"]
    )
    totals["patients_with_missed_streak"] = sum(
        1 for r in rows if r.summary.current_missed_streak > 0
    )
    return Caseload(start, end, rows, totals)
