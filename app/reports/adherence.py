"""A patient's adherence: every dose day's state over a period, and the figures a prescriber
acts on (attendance, missed, withheld, the longest run without a dose). A report over the dose
ledger, so it lives with the reports and reads `dosing`'s rows; the counter never needs it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.actor import Actor
from app.audit import service as audit_service
from app.clock import local_date
from app.db import UnitOfWork
from app.dosing.models import InstalmentDay
from app.errors import InvalidInput
from app.patients import repository as patients_repository
from app.reports import rules as report_rules


@dataclass(frozen=True, slots=True)
class Adherence:
    patient_id: UUID
    days: list[dict[str, Any]]
    summary: dict[str, Any]


def ledger_summary(rows: Sequence[InstalmentDay], timezone: str) -> dict[str, Any]:
    """The adherence figures of a run of ledger rows, each with what it counts (one
    implementation for the API, the prescriber's pages and the caseload)."""
    summary = report_rules.summarise_adherence(
        [
            report_rules.LedgerDay(
                r.dose_date,
                r.state,
                local_date(r.recorded_at, timezone) if r.recorded_at else None,
                str(r.handover_id) if r.handover_id else None,
            )
            for r in rows
        ]
    )
    return {
        **{
            name: getattr(summary, name)
            for name in report_rules.ADHERENCE_DEFINITIONS
            if name != "attended_percent"
        },
        "attended_percent": summary.attended_percent,
        "definitions": dict(report_rules.ADHERENCE_DEFINITIONS),
    }


def adherence(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    start: date,
    end: date,
    now: datetime,
    timezone: str = "Europe/London",
    summary_window: tuple[date, date] | None = None,
) -> Adherence:
    """Every dose day's state in the period and a summary a prescriber can act on.

    `summary_window` (inside the period) limits the summary to those days: the prescriber's
    patient page shows a five-week calendar but the same 28 days as the caseload's figures."""
    if end < start:
        raise InvalidInput("to", "after_from", "must not be before 'from'")
    if (end - start).days > 366:
        raise InvalidInput("to", "max_range", "the period may be at most a year")
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id)
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
    low, high = summary_window or (start, end)
    summary = ledger_summary([r for r in rows if low <= r.dose_date <= high], timezone)
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
