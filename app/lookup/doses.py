"""The ledger facts a look-up adds to the counter's: which take-home supply the last dose went
home in (read only; the ledger is dosing's)."""

from __future__ import annotations

from datetime import date
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.dosing.facts import drug_of
from app.dosing.models import TAKEN_STATES, InstalmentDay, Mode, PaperDose, PaperOutcome
from app.lookup.rules import WentHome
from app.prescriptions.products import PRODUCTS


def latest_product(session: Session, patient_id: UUID) -> str | None:
    """The product of the patient's latest ledger day: what the last dose was, when no
    prescription is current (it ended, or was cancelled)."""
    return session.scalar(
        select(InstalmentDay.product)
        .where(InstalmentDay.patient_id == patient_id)
        .order_by(InstalmentDay.dose_date.desc())
        .limit(1)
    )


def went_home(
    session: Session, patient_id: UUID, product: str, taken_on: date, timezone: str
) -> WentHome | None:
    """The take-home supply the dose dated `taken_on` went home in, or None if it was
    supervised (or not taken here)."""
    drug = drug_of(product)
    codes = sorted(code for code, p in PRODUCTS.items() if p.drug == drug) or [product]
    day = session.scalar(
        select(InstalmentDay)
        .where(
            InstalmentDay.patient_id == patient_id,
            InstalmentDay.product.in_(codes),
            InstalmentDay.dose_date == taken_on,
            InstalmentDay.state.in_(TAKEN_STATES),
        )
        .order_by(InstalmentDay.recorded_at.desc())
        .limit(1)
    )
    if day is None or day.mode != Mode.TAKE_HOME or day.handover_id is None:
        return None
    dates = sorted(
        session.scalars(
            select(InstalmentDay.dose_date).where(
                InstalmentDay.handover_id == day.handover_id,
                InstalmentDay.mode == Mode.TAKE_HOME,
                InstalmentDay.state.in_(TAKEN_STATES),
            )
        )
    )
    collected = (
        day.recorded_at.astimezone(ZoneInfo(timezone)).date()
        if day.recorded_at is not None
        else day.collect_on
    )
    return WentHome(collected_on=collected, days=len(dates), first=dates[0], last=dates[-1])


def latest_paper_supply(
    session: Session, patient_id: UUID, through: date
) -> tuple[date, str] | None:
    """The latest dose given on paper during an outage (day and outcome), through a day: a
    supply the ledger could not hold (a second one, or on a day withheld or not due) is still a
    dose the patient took, and a ward must not be told an earlier one."""
    found = session.execute(
        select(PaperDose.dose_date, PaperDose.outcome)
        .where(
            PaperDose.patient_id == patient_id,
            PaperDose.outcome.in_((PaperOutcome.SUPERVISED, PaperOutcome.COLLECTED)),
            PaperDose.dose_date <= through,
        )
        .order_by(PaperDose.dose_date.desc(), PaperDose.given_at.desc())
        .limit(1)
    ).first()
    return (found[0], found[1]) if found is not None else None
