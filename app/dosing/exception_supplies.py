"""What a dose exception concerns (issue 20 §1): the ledger day(s) handed over, or a
replacement supplied for an earlier exception and itself lost, stolen, damaged, returned,
vomited or spilt (`dose_exceptions.replacement_id`).

A replacement is a supply like any other, so what happened to it is an exception like any
other, checked against the replacement instead of the ledger: it was supplied (by this
pharmacy, to this patient), its mode decides the kinds (a take-home replacement can be lost,
stolen, damaged or returned, or spilt when handed over today; a supervised one vomited or
spilt, today), the amount is the replacement's dose, and a replacement has one exception
(`uq_dose_exceptions_replacement_id`). Its days are the days it replaced, each with the part
of the replacement given for it, the same spread its register lines show; so an exception of
a replacement may in turn be replaced, with the same checks.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.dosing import exception_rules
from app.dosing.exception_models import TAKE_HOME_KINDS, DoseException, DoseReplacement
from app.dosing.models import InstalmentDay
from app.errors import Conflict, InvalidInput, NotFound
from app.prescriptions import dose_plan


def supplied_day(row: InstalmentDay) -> exception_rules.SuppliedDay:
    return exception_rules.SuppliedDay(
        row.dose_date, row.state, Decimal(row.dose_mg), dose_plan.parts_of(row.parts)
    )


def ledger_rows(session: Session, exception: DoseException) -> list[InstalmentDay]:
    return list(
        session.scalars(
            select(InstalmentDay).where(
                InstalmentDay.patient_id == exception.patient_id,
                InstalmentDay.product == exception.product,
                InstalmentDay.dose_date.in_([date.fromisoformat(d) for d in exception.dose_dates]),
            )
        )
    )


def replaced_days(
    session: Session, replacement: DoseReplacement
) -> list[exception_rules.SuppliedDay]:
    """The replacement as supplied days: each day it replaced with its part of the replacement
    (as its register lines), swallowed here (supervised) or gone home (collected)."""
    original = session.get(DoseException, replacement.exception_id)
    assert original is not None  # a foreign key
    state = "supervised" if replacement.mode == "supervised" else "collected"
    return [
        exception_rules.SuppliedDay(day, state, mg)
        for day, mg in exception_rules.spread(
            original.kind, concerned_days(session, original), Decimal(replacement.dose_mg)
        )
    ]


def concerned_days(session: Session, exception: DoseException) -> list[exception_rules.SuppliedDay]:
    """The supplied days an exception concerns: the ledger's, or its replacement's."""
    if exception.replacement_id is None:
        return [supplied_day(r) for r in ledger_rows(session, exception)]
    replacement = session.get(DoseReplacement, exception.replacement_id)
    assert replacement is not None  # a foreign key
    return replaced_days(session, replacement)


def replacement_for_exception(
    session: Session,
    *,
    pharmacy_id: UUID | None,
    patient_id: UUID,
    replacement_id: UUID,
    kind: str,
    today: date,
    window_days: int,
) -> DoseReplacement:
    """The replacement a new exception names, checked as a ledger day is checked: supplied by
    this pharmacy to this patient, of a mode the kind fits, recent, without an exception."""
    replacement = session.get(DoseReplacement, replacement_id)
    if (
        replacement is None
        or replacement.pharmacy_id != pharmacy_id
        or replacement.patient_id != patient_id
    ):
        raise NotFound("dose replacement", replacement_id)
    if replacement.supplied_on < today - timedelta(days=window_days):
        raise InvalidInput(
            "replacement_id",
            "too_old",
            f"an exception is recorded on the day, or when reported, up to {window_days} days "
            "after the replacement was supplied",
        )
    supplied = replacement.supplied_on.strftime("%d/%m/%Y")
    if kind == "vomited" and (replacement.mode != "supervised" or replacement.supplied_on != today):
        raise Conflict(
            "A vomited dose is recorded for a supervised dose swallowed today; this replacement "
            f"was not swallowed here today (it was supplied {supplied}, {_mode(replacement)})",
            code="not_supervised_today",
            field="kind",
        )
    if kind == "spilt" and replacement.supplied_on != today:
        raise Conflict(
            "A spill at the counter is recorded for a dose handed over today; this replacement "
            f"was supplied {supplied}",
            code="not_supplied_today",
            field="replacement_id",
        )
    if kind in TAKE_HOME_KINDS and replacement.mode != "take_home":
        raise Conflict(
            "Only a take-home can be lost, stolen, damaged or returned: this replacement was "
            "swallowed at the counter",
            code="not_a_take_home",
            field="kind",
        )
    already = session.scalar(
        select(DoseException).where(DoseException.replacement_id == replacement.id)
    )
    if already is not None:
        raise recorded_for_replacement(already)
    return replacement


def recorded_for_replacement(already: DoseException) -> Conflict:
    return Conflict(
        f"An exception ({already.kind}) is already recorded for this replacement "
        f"({already.occurred_on.strftime('%d/%m/%Y')}): a replacement is lost, spilt or "
        "returned once. If its own replacement went astray, name that replacement",
        code="exception_recorded",
        field="replacement_id",
    )


def _mode(replacement: DoseReplacement) -> str:
    return "swallowed here" if replacement.mode == "supervised" else "a take-home"
