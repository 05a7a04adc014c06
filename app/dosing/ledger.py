"""The instalment ledger's own writes and reads, for the use cases above dosing.

The ledger (`instalment_days`, `releases`) belongs to dosing: prescription intake, supersession,
cancellation, the prescriber's release and re-planning around closures change it only through
these functions, so the rules that keep it true (a recorded dose never changes, a day whose
collection has passed is written as not dispensed) live in one place.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, Update, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.dosing.models import DoseState, InstalmentDay, Release
from app.errors import Conflict
from app.patients.models import Patient
from app.prescriptions import dose_plan, intake_terms
from app.prescriptions.models import Prescription, Status


@functools.cache
def _change_statement(columns: frozenset[str]) -> Update:
    """The conditional UPDATE for one set of columns, built once per set and reused (issue 21:
    building an UPDATE and its cache key cost as much as running it). Core, on the table: the
    ORM's bulk-update machinery would only look the row up again."""
    table = cast(Table, InstalmentDay.__table__)
    return (
        update(table)
        .where(table.c.id == bindparam("day_id"), table.c.state == bindparam("expected"))
        .values({name: bindparam(f"new_{name}") for name in sorted(columns)})
    )


def change_day(
    session: Session,
    day_id: UUID,
    *,
    expected: str,
    values: Mapping[str, Any],
    row: InstalmentDay | None = None,
) -> None:
    """Record what happened to one day, only if it is still in the `expected` state: another
    terminal recording the same day between our read and this write makes it 409
    `already_recorded`, never a dose written twice or a record overwritten.

    `row`, the caller's loaded instance of that day, is then given the values written, as they
    read back (a timestamp in UTC, a code as text), instead of a SELECT to refresh it; without
    it the caller refreshes the row it holds."""
    unknown = set(values) - set(InstalmentDay.__table__.c.keys())
    if unknown:
        raise ValueError(f"not instalment_days columns: {sorted(unknown)}")
    params = {f"new_{name}": value for name, value in values.items()}
    changed = session.execute(
        _change_statement(frozenset(values)), {"day_id": day_id, "expected": expected, **params}
    ).rowcount  # type: ignore[attr-defined]
    if changed != 1:
        raise Conflict(
            "This dose was recorded a moment ago at another terminal", code="already_recorded"
        )
    if row is not None:
        for name, value in values.items():
            set_committed_value(row, name, _as_read_back(value))


def _as_read_back(value: Any) -> Any:
    """A value as the database gives it back: an aware UTC instant (`UTCDateTime`), an
    enumeration's text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def plan_days(
    session: Session,
    prescription: Prescription,
    household_id: UUID | None,
    schedule: Sequence[intake_terms.ScheduledDose],
    *,
    today: date,
    now: datetime,
) -> list[InstalmentDay]:
    """Write a checked prescription's schedule into the ledger (see `_rows_for`)."""
    rows = _rows_for(prescription, household_id, schedule, today=today, now=now)
    session.add_all(rows)
    return rows


def _rows_for(
    prescription: Prescription,
    household_id: UUID | None,
    schedule: Sequence[intake_terms.ScheduledDose],
    *,
    today: date,
    now: datetime,
) -> list[InstalmentDay]:
    """The ledger rows for a schedule checked on `today`.

    A day whose collection had already passed when the prescription was checked could never
    have been supplied: it is written as `not_dispensed` (no dose was taken, so it counts
    toward the loss-of-tolerance threshold) with the reason, except the later days of an
    instalment under the "missed remaining" wording, which stay collectable up to their date.
    """
    remaining = prescription.wording_missed_remaining
    rows = []
    for d in schedule:
        late = d.collect_on < today and not (remaining and d.dose_date >= today)
        rows.append(
            InstalmentDay(
                prescription_id=prescription.id,
                patient_id=prescription.patient_id,
                pharmacy_id=prescription.pharmacy_id,
                household_id=household_id,
                product=prescription.product,
                dose_date=d.dose_date,
                collect_on=d.collect_on,
                mode=d.mode,
                dose_mg=d.dose_mg,
                parts=dose_plan.parts_json(d.parts),
                state=DoseState.NOT_DISPENSED if late else DoseState.DUE,
                remaining_collectable=remaining,
                recorded_at=now if late else None,
                reason=f"not dispensed: the prescription was checked on {today.isoformat()}, "
                f"after the collection day ({d.collect_on.isoformat()})"
                if late
                else None,
            )
        )
    return rows


def first_recorded_from(session: Session, prescription_id: UUID, dose_from: date) -> date | None:
    """The first day from `dose_from` on whose dose is already recorded (taken, missed, ...)."""
    return session.scalar(
        select(InstalmentDay.dose_date)
        .where(
            InstalmentDay.prescription_id == prescription_id,
            InstalmentDay.dose_date >= dose_from,
            InstalmentDay.state != DoseState.DUE,
        )
        .limit(1)
    )


def remove_due_days(
    session: Session,
    prescription_id: UUID,
    *,
    dose_from: date | None = None,
    collect_from: date | None = None,
) -> int:
    """Give up the days still due from a dose date or a collection date on; a recorded dose is
    never removed. Returns how many days went."""
    query = delete(InstalmentDay).where(
        InstalmentDay.prescription_id == prescription_id, InstalmentDay.state == DoseState.DUE
    )
    if dose_from is not None:
        query = query.where(InstalmentDay.dose_date >= dose_from)
    if collect_from is not None:
        query = query.where(InstalmentDay.collect_on >= collect_from)
    return int(session.execute(query).rowcount)  # type: ignore[attr-defined]


def move_due_days(
    session: Session,
    prescription_id: UUID,
    *,
    collect_from: date,
    collect_to: date | None,
    from_pharmacy_id: UUID,
    to_pharmacy_id: UUID,
    dose_from: date | None = None,
) -> int:
    """Move the days still due, collected from `collect_from` (to `collect_to`), from one
    pharmacy's counter to another's: guest dosing and its end, and a transfer. A whole
    instalment moves with its collection day; a recorded dose never moves. `dose_from` (a
    transfer) also moves the days of an instalment collected earlier whose own dates are still
    to come (still collectable under the "missed remaining" wording). Returns how many."""
    later = InstalmentDay.collect_on >= collect_from
    if dose_from is not None:
        later = or_(later, InstalmentDay.dose_date >= dose_from)
    query = (
        update(InstalmentDay)
        .where(
            InstalmentDay.prescription_id == prescription_id,
            InstalmentDay.state == DoseState.DUE,
            InstalmentDay.pharmacy_id == from_pharmacy_id,
            later,
        )
        .values(pharmacy_id=to_pharmacy_id)
        .execution_options(synchronize_session=False)
    )
    if collect_to is not None:
        query = query.where(InstalmentDay.collect_on <= collect_to)
    return int(session.execute(query).rowcount)  # type: ignore[attr-defined]


def guest_days_on(session: Session, pharmacy_id: UUID, collect_on: date) -> int:
    """How many days still due are collected at this pharmacy on that date for another
    pharmacy's prescriptions (guest dosing): a closure there would strand them."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(InstalmentDay)
            .join(Prescription, Prescription.id == InstalmentDay.prescription_id)
            .where(
                InstalmentDay.pharmacy_id == pharmacy_id,
                InstalmentDay.collect_on == collect_on,
                InstalmentDay.state == DoseState.DUE,
                Prescription.pharmacy_id != pharmacy_id,
            )
        )
        or 0
    )


def due_collections(
    session: Session, prescription_id: UUID, held_at: UUID, collect_from: date, collect_to: date
) -> set[date]:
    """The collection days still due at a pharmacy's counter in a period."""
    return set(
        session.scalars(
            select(InstalmentDay.collect_on).where(
                InstalmentDay.prescription_id == prescription_id,
                InstalmentDay.state == DoseState.DUE,
                InstalmentDay.pharmacy_id == held_at,
                InstalmentDay.collect_on >= collect_from,
                InstalmentDay.collect_on <= collect_to,
            )
        )
    )


def replan_due_days(
    session: Session,
    prescription_id: UUID,
    planned: Mapping[date, intake_terms.ScheduledDose],
    *,
    today: date,
    held_at: UUID | None = None,
) -> tuple[list[dict[str, Any]], list[date]]:
    """Move the days still due to the collection day and mode of a re-generated schedule.

    `held_at`: only the days held at that pharmacy's counter (a closure re-plans its own
    calendar's days, never those granted to a guest pharmacy). Returns the moves made and the
    dose dates left with no open day before them that has not already passed: a dose is never
    moved into the past."""
    query = select(InstalmentDay).where(
        InstalmentDay.prescription_id == prescription_id,
        InstalmentDay.state == DoseState.DUE,
        InstalmentDay.collect_on >= today,
    )
    if held_at is not None:
        query = query.where(InstalmentDay.pharmacy_id == held_at)
    rows = session.scalars(query)
    changes: list[dict[str, Any]] = []
    no_day_left: list[date] = []
    for row in rows:
        new = planned.get(row.dose_date)
        if new and new.collect_on < today:
            no_day_left.append(row.dose_date)
            continue
        if new and (new.collect_on, new.mode) != (row.collect_on, row.mode):
            changes.append(
                {"dose_date": row.dose_date, "from": row.collect_on, "to": new.collect_on}
            )
            row.collect_on = new.collect_on
            row.mode = new.mode
    return changes, no_day_left


def planned_dates(session: Session, prescription_id: UUID) -> set[date]:
    """The dose dates a prescription already has in the ledger, whatever their state."""
    return set(
        session.scalars(
            select(InstalmentDay.dose_date).where(InstalmentDay.prescription_id == prescription_id)
        )
    )


def days_of(session: Session, prescription_id: UUID) -> list[InstalmentDay]:
    """A prescription's ledger rows in date order."""
    return list(
        session.scalars(
            select(InstalmentDay)
            .where(InstalmentDay.prescription_id == prescription_id)
            .order_by(InstalmentDay.dose_date)
        )
    )


def due_from(
    session: Session, pharmacy_id: UUID, today: date
) -> list[tuple[InstalmentDay, str, str]]:
    """The days still to collect at a pharmacy from today, with the patient's names, in
    collection order."""
    return [
        (row, given, family)
        for row, given, family in session.execute(
            select(InstalmentDay, Patient.given_name, Patient.family_name)
            .join(Prescription, Prescription.id == InstalmentDay.prescription_id)
            .join(Patient, Patient.id == InstalmentDay.patient_id)
            .where(
                Prescription.pharmacy_id == pharmacy_id,
                Prescription.status == Status.ACTIVE,
                InstalmentDay.state == DoseState.DUE,
                InstalmentDay.collect_on >= today,
            )
            .order_by(InstalmentDay.collect_on)
        )
    ]


def record_release(
    session: Session,
    *,
    prescription: Prescription,
    released_by_id: UUID | None,
    note: str,
    today: date,
    now: datetime,
) -> tuple[Release, bool]:
    """The prescriber's review after missed doses. The same review repeated on the same day (a
    double click, a retried request) is one review: returns the row and whether it is new."""
    same = session.scalar(
        select(Release).where(
            Release.prescription_id == prescription.id,
            Release.released_on == today,
            Release.released_by_id == released_by_id,
            Release.note == note,
        )
    )
    if same is not None:
        return same, False
    row = Release(
        prescription_id=prescription.id,
        patient_id=prescription.patient_id,
        released_on=today,
        released_by_id=released_by_id,
        note=note,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, True
