"""The conference chronology's events from the dose ledger and the counter: supervised,
missed, withheld and not-dispensed days, take-home collections, children seen at the counter,
refused visits, same-day reassessments, the prescriber's releases and daily-dose changes.

Each function reads one kind of row for the household's members in the period and says what
happened in words a conference can read; `app.reports.conference` gathers them into one
chronology.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import local_date, local_midnight_utc
from app.dosing.models import (
    DoseState,
    HandoverRefusal,
    InstalmentDay,
    Reassessment,
    Release,
)
from app.households.models import Child
from app.prescriptions.models import Prescription, Status
from app.prescriptions.products import PRODUCTS
from app.reports.period import FINAL
from app.reports.rules import Event, EventKind


def _mg(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _ml(product: str, mg: Decimal) -> Decimal | None:
    known = PRODUCTS.get(product)
    return known.ml_for(mg) if known is not None else None


def _dose_rows(
    session: Session, patient_ids: Sequence[UUID], start: date, end: date, timezone: str
) -> list[InstalmentDay]:
    """Every recorded dose day in the period, and every day of a take-home handed over in the
    period (the whole collection, even days after the period ends: that is what went home)."""
    found: dict[UUID, InstalmentDay] = {}
    for row in session.scalars(
        select(InstalmentDay).where(
            InstalmentDay.patient_id.in_(patient_ids),
            InstalmentDay.dose_date >= start,
            InstalmentDay.dose_date <= end,
            InstalmentDay.state.in_(FINAL),
        )
    ):
        found[row.id] = row
    handed_over = select(InstalmentDay.handover_id).where(
        InstalmentDay.patient_id.in_(patient_ids),
        InstalmentDay.state == DoseState.COLLECTED,
        InstalmentDay.recorded_at >= local_midnight_utc(start, timezone),
        InstalmentDay.recorded_at < local_midnight_utc(end + timedelta(days=1), timezone),
    )
    for row in session.scalars(
        select(InstalmentDay).where(InstalmentDay.handover_id.in_(handed_over))
    ):
        found[row.id] = row
    return sorted(found.values(), key=lambda r: (str(r.patient_id), r.dose_date))


_COLLECTORS = {
    "patient": "the patient",
    "representative": "the patient's representative",
    "hcp": "a healthcare professional",
}


def dose_events(
    session: Session, patient_ids: Sequence[UUID], start: date, end: date, timezone: str
) -> list[Event]:
    rows = _dose_rows(session, patient_ids, start, end, timezone)
    child_ids = {UUID(c) for r in rows for c in (r.children_present or [])}
    child_names: dict[UUID, str] = {}
    if child_ids:
        for child_id, child_name in session.execute(
            select(Child.id, Child.name).where(Child.id.in_(child_ids))
        ):
            child_names[child_id] = child_name
    events: list[Event] = []
    visits: dict[str, list[InstalmentDay]] = defaultdict(list)
    collected: dict[UUID, list[InstalmentDay]] = defaultdict(list)
    for row in rows:
        at = row.recorded_at or local_midnight_utc(row.dose_date, timezone)
        ref = str(row.patient_id)
        mg = Decimal(row.dose_mg)
        if row.children_present and row.state != DoseState.MISSED:
            key = str(row.handover_id) if row.handover_id else f"{row.patient_id}:{at.isoformat()}"
            visits[key].append(row)
        if row.state == DoseState.SUPERVISED:
            events.append(
                Event(
                    row.dose_date,
                    at,
                    EventKind.SUPERVISED,
                    f"dose:{row.id}",
                    ref,
                    f"Supervised dose of {_mg(mg)} mg swallowed by the patient at the pharmacy"
                    + (" after a same-day reassessment." if row.reassessment_id else "."),
                    (row.dose_date,),
                    mg,
                )
            )
        elif row.state == DoseState.COLLECTED and row.handover_id:
            collected[row.handover_id].append(row)
        elif row.state in (DoseState.MISSED, DoseState.NOT_DISPENSED):
            missed = row.state == DoseState.MISSED
            events.append(
                Event(
                    row.dose_date,
                    at,
                    EventKind.MISSED if missed else EventKind.NOT_DISPENSED,
                    f"dose:{row.id}",
                    ref,
                    f"{'Supervised' if row.mode == 'supervised' else 'Take-home'} dose of "
                    f"{_mg(mg)} mg "
                    + (
                        "not collected (missed)."
                        if missed
                        else "not dispensed: the prescription reached the pharmacy after the day."
                    ),
                    (row.dose_date,),
                    mg,
                )
            )
        elif row.state == DoseState.WITHHELD:
            reason = row.reason or ""
            intoxicated = reason.startswith("intoxicated")
            events.append(
                Event(
                    row.dose_date,
                    at,
                    EventKind.INTOXICATED if intoxicated else EventKind.WITHHELD,
                    f"dose:{row.id}",
                    ref,
                    "The patient presented intoxicated; the dose was withheld."
                    if intoxicated
                    else f"Dose withheld by the pharmacist ({reason.removeprefix('other: ')}).",
                    (row.dose_date,),
                    mg,
                )
            )
    for handover_id, group in collected.items():
        first = group[0]
        at = first.recorded_at or local_midnight_utc(first.collect_on, timezone)
        mg = sum((Decimal(r.dose_mg) for r in group), Decimal(0))
        quantity = _ml(first.product, mg)
        dates = tuple(r.dose_date for r in group)
        who = first.collector or "patient"
        directed = any(r.authorisation_id for r in group)
        events.append(
            Event(
                local_date(at, timezone),
                at,
                EventKind.TAKE_HOME_COLLECTED,
                f"handover:{handover_id}",
                str(first.patient_id),
                f"Take-home methadone collected by {_COLLECTORS.get(who, who)}: {_mg(mg)} mg"
                + (f" ({_mg(quantity)} mL)" if quantity is not None else "")
                + f" for {len(dates)} day{'s' if len(dates) != 1 else ''} "
                f"({', '.join(d.isoformat() for d in dates)})"
                + (
                    "; a supervised day taken home on the prescriber's direction."
                    if directed
                    else "."
                ),
                dates,
                mg,
                {"collector": who, "id_checked": first.id_asked, "prescriber_directed": directed},
            )
        )
    for key, group in visits.items():
        first = group[0]
        at = first.recorded_at or local_midnight_utc(first.dose_date, timezone)
        seen = sorted({c for r in group for c in (r.children_present or [])})
        names = ", ".join(child_names.get(UUID(c), "a child") for c in seen)
        events.append(
            Event(
                local_date(at, timezone),
                at,
                EventKind.CHILD_SEEN,
                f"visit:{key}",
                str(first.patient_id),
                f"{len(seen)} child{'ren' if len(seen) != 1 else ''} seen at the counter with "
                f"the patient ({names}).",
                details={"children": len(seen)},
            )
        )
    return events


_REFUSAL_WORDS = {
    "missed_threshold_reached": "days without a dose reached the threshold (prescriber review needed)",
    "no_lockable_box": "no valid lockable-box confirmation for a take-home",
    "children_not_confirmed": "the children living there were not confirmed",
    "patient_intoxicated": "the patient appeared intoxicated",
    "supervised_needs_patient": "someone other than the patient asked for a supervised dose",
    "withheld_today": "the dose had been withheld earlier that day",
    "not_due_today": "nothing was due that day",
    "last_dose_unknown": "the last dose taken was not known",
}


def counter_events(
    session: Session, patient_ids: Sequence[UUID], start: date, end: date, timezone: str
) -> list[Event]:
    """Refused visits, same-day reassessments and the prescriber's reviews in the period."""
    events: list[Event] = []
    for refusal in session.scalars(
        select(HandoverRefusal).where(
            HandoverRefusal.patient_id.in_(patient_ids),
            HandoverRefusal.day >= start,
            HandoverRefusal.day <= end,
        )
    ):
        why = "; ".join(_REFUSAL_WORDS.get(code, code.replace("_", " ")) for code in refusal.codes)
        events.append(
            Event(
                refusal.day,
                refusal.refused_at,
                EventKind.REFUSED,
                f"refusal:{refusal.id}",
                str(refusal.patient_id),
                f"The patient came to the counter and no dose was handed over: {why}.",
                details={"codes": ",".join(refusal.codes)},
            )
        )
    for reassessment in session.scalars(
        select(Reassessment).where(
            Reassessment.patient_id.in_(patient_ids),
            Reassessment.dose_date >= start,
            Reassessment.dose_date <= end,
        )
    ):
        withheld_at = (
            f" at {reassessment.withheld_at.astimezone(ZoneInfo(timezone)):%H:%M}"
            if reassessment.withheld_at
            else ""
        )
        events.append(
            Event(
                reassessment.dose_date,
                reassessment.reassessed_at,
                EventKind.REASSESSED,
                f"reassessment:{reassessment.id}",
                str(reassessment.patient_id),
                f"The dose withheld{withheld_at} ({reassessment.withhold_reason or 'no reason'}) "
                f"was reassessed by a pharmacist later the same day: {reassessment.note}",
            )
        )
    for release in session.scalars(
        select(Release).where(
            Release.patient_id.in_(patient_ids),
            Release.released_on >= start,
            Release.released_on <= end,
        )
    ):
        events.append(
            Event(
                release.released_on,
                release.created_at,
                EventKind.RELEASED,
                f"release:{release.id}",
                str(release.patient_id),
                f"The prescriber reviewed the patient and released supply: {release.note}",
            )
        )
    return events


def prescription_events(
    session: Session, patient_ids: Sequence[UUID], start: date, end: date
) -> list[Event]:
    """Each prescription starting in the period at a different daily dose from the one before."""
    events: list[Event] = []
    by_patient: dict[UUID, list[Prescription]] = defaultdict(list)
    for rx in session.scalars(
        select(Prescription)
        .where(
            Prescription.patient_id.in_(patient_ids),
            Prescription.status != Status.CANCELLED,
            Prescription.start_on <= end,
        )
        .order_by(Prescription.start_on, Prescription.entered_at)
    ):
        by_patient[rx.patient_id].append(rx)
    for patient_id, prescriptions in by_patient.items():
        for before, after in zip(prescriptions, prescriptions[1:], strict=False):
            if after.start_on < start or after.daily_dose_mg == before.daily_dose_mg:
                continue
            events.append(
                Event(
                    after.start_on,
                    after.entered_at,
                    EventKind.DOSE_CHANGED,
                    f"prescription:{after.id}",
                    str(patient_id),
                    f"The daily dose changed from {_mg(Decimal(before.daily_dose_mg))} mg to "
                    f"{_mg(Decimal(after.daily_dose_mg))} mg (new prescription from "
                    f"{after.start_on.isoformat()}).",
                )
            )
    return events
