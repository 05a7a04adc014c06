"""Read models for the counter and prescribers: the day's due list and adherence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.audit import service as audit_service
from app.audit.service import Actor
from app.auth.models import Role
from app.auth.policy import require_role
from app.config import PolicySettings
from app.db import UnitOfWork
from app.dosing import service as dosing_service
from app.dosing.models import DoseState, InstalmentDay
from app.errors import InvalidInput
from app.patients import service as patients_service
from app.patients.models import Patient
from app.pharmacies import service as pharmacies_service


def due_list(
    uow: UnitOfWork, *, actor: Actor, day: date, policy: PolicySettings, now: datetime
) -> list[dict[str, Any]]:
    """Every patient with an instalment to collect at the caller's pharmacy on `day`,
    each with the decision the counter would show (the day's state when already recorded)."""
    require_role(actor, dosing_service.COUNTER | {Role.ADMIN}, "see the due list")
    if actor.pharmacy_id is None:
        raise InvalidInput(
            "pharmacy", "required", "the due list is per pharmacy: sign in as staff of a pharmacy"
        )
    with uow:
        session = uow.session
        pharmacies_service.load_visible(session, actor, actor.pharmacy_id)
        patients = list(
            session.scalars(
                select(Patient)
                .where(
                    Patient.id.in_(
                        select(InstalmentDay.patient_id).where(
                            InstalmentDay.pharmacy_id == actor.pharmacy_id,
                            InstalmentDay.collect_on == day,
                        )
                    )
                )
                .order_by(Patient.family_name, Patient.given_name)
            )
        )
        items = []
        for view in dosing_service.views(
            session, actor, patients, product=None, today=day, intoxicated=False, policy=policy
        ):
            patient = view.patient
            states = sorted({r.state for r in view.rows})
            items.append(
                {
                    **dosing_service.decision_body(view),
                    "given_name": patient.given_name,
                    "family_name": patient.family_name,
                    "state": states[0] if len(states) == 1 else ",".join(states),
                }
            )
        audit_service.record(
            session,
            actor,
            "counter.due_list_viewed",
            entity="pharmacy",
            entity_id=actor.pharmacy_id,
            at=now,
            pharmacy_id=actor.pharmacy_id,
            facts={"date": day, "patients": len(items)},
        )
        uow.commit()
        return items


@dataclass(frozen=True, slots=True)
class Adherence:
    patient_id: UUID
    days: list[dict[str, Any]]
    summary: dict[str, Any]


def adherence(
    uow: UnitOfWork, *, actor: Actor, patient_id: UUID, start: date, end: date, now: datetime
) -> Adherence:
    """Every dose day's state in the period and a summary a prescriber can act on."""
    if end < start:
        raise InvalidInput("to", "after_from", "must not be before 'from'")
    if (end - start).days > 366:
        raise InvalidInput("to", "max_range", "the period may be at most a year")
    with uow:
        session = uow.session
        patient = patients_service.load_visible(session, actor, patient_id)
        rows = list(
            session.scalars(
                select(InstalmentDay)
                .where(
                    InstalmentDay.patient_id == patient.id,
                    InstalmentDay.dose_date >= start,
                    InstalmentDay.dose_date <= end,
                )
                .order_by(InstalmentDay.dose_date, InstalmentDay.product)
            )
        )
        audit_service.record(
            session,
            actor,
            "patient.adherence_viewed",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"from": start, "to": end},
        )
        uow.commit()
    counts = {state.value: 0 for state in DoseState}
    longest = run = 0
    for row in rows:
        counts[row.state] += 1
        run = run + 1 if row.state == DoseState.MISSED else 0
        longest = max(longest, run)
    attended = counts[DoseState.SUPERVISED] + counts[DoseState.COLLECTED]
    decided = attended + counts[DoseState.MISSED] + counts[DoseState.WITHHELD]
    summary = {
        "supervised": counts[DoseState.SUPERVISED],
        "collected": counts[DoseState.COLLECTED],
        "missed": counts[DoseState.MISSED],
        "withheld": counts[DoseState.WITHHELD],
        "due": counts[DoseState.DUE],
        "longest_missed_streak": longest,
        "attended_percent": (Decimal(100 * attended) / decided).quantize(Decimal("0.1"))
        if decided
        else None,
    }
    days = [
        {
            "dose_date": r.dose_date,
            "collect_on": r.collect_on,
            "product": r.product,
            "mode": r.mode,
            "dose_mg": str(r.dose_mg),
            "state": r.state,
            "recorded_at": r.recorded_at,
        }
        for r in rows
    ]
    return Adherence(patient.id, days, summary)
