"""What one handover measures out, container by container (issue 20 §5).

A handover may fill several containers: the supervised cup (today's supervised dose, or the
supervised part of a split dose, swallowed at the counter) and each take-home container as its
label groups them (`app.labelling.content.group_containers`: one per day with the separate
containers wording, else one per run of equal doses, every part of a split dose in its own).
A dose pump measures one container at a time, so what it reports is compared with that
container's volume, never with the handover's total. Containers are keyed `"supervised"` and
`"1"`, `"2"`, … (the take-home label's "Container n of N").

`last_pump_results` reads the pump's last result today for each container from the audit log
(`counter.pump_dispensed` and `counter.pump_failed`, written by `app.counter.pump`), so the
handover refuses a short measure whether or not the page passed the pump's figure on
(docs/decisions.md, "One pump measure is one container").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.dosing.counter import CounterView
from app.dosing.decision_inputs import PumpCheck
from app.dosing.models import DoseState, InstalmentDay, Mode
from app.errors import InvalidInput
from app.labelling.content import Portion, day, group_containers
from app.prescriptions import dose_plan
from app.prescriptions.products import PRODUCTS

SUPERVISED = "supervised"
# The audit actions of the pump's requests (app.counter.pump writes them; the handover reads).
PUMP_DISPENSED = "counter.pump_dispensed"
PUMP_FAILED = "counter.pump_failed"


@dataclass(frozen=True, slots=True)
class Container:
    """One container this handover fills, and what it holds."""

    key: str  # "supervised", or "1", "2", … as the take-home labels number them
    words: str  # "the supervised dose (Mon 7 Dec 2026)", "take-home container 1 of 2 (…)"
    dose_dates: tuple[date, ...]
    dose_mg: Decimal
    ml: Decimal | None  # mL as measured and labelled; None: not a liquid


@dataclass(frozen=True, slots=True)
class PumpResult:
    """The pump's last answer today for one container (from the audit log)."""

    container: str
    request_id: str | None
    requested_ml: Decimal
    dispensed_ml: Decimal | None  # None: the request failed (the volume is unknown or none)


@dataclass(frozen=True, slots=True)
class PumpReport:
    """The pump checks a handover is decided with, and the figure kept with it."""

    checks: tuple[PumpCheck, ...] = ()
    dispensed_ml: Decimal | None = None  # the supervised cup's (else the first container's)
    measured_ml: Decimal | None = None  # what that container holds


def pending(row: InstalmentDay, view: CounterView) -> bool:
    """Still to hand over: due, or withheld earlier today and reassessed since."""
    if row.state == DoseState.DUE:
        return True
    return (
        row.state == DoseState.WITHHELD
        and row.reassessment_id is None
        and any(day.dose_date == row.dose_date and day.reassessed for day in view.facts.instalments)
    )


def home_portions(row: InstalmentDay, *, swallowed: bool) -> list[Portion]:
    """What of this day goes home: the whole dose (a split dose as its parts), or, when the
    day is swallowed here, the parts of its split dose that go home."""
    parts = dose_plan.parts_of(row.parts)
    if swallowed:
        return [Portion(row.dose_date, p.dose_mg, p.when) for p in parts if not p.supervised]
    whole = [Portion(row.dose_date, Decimal(row.dose_mg))]
    return [Portion(row.dose_date, p.dose_mg, p.when) for p in parts] or whole


def _cup_mg(row: InstalmentDay) -> Decimal:
    parts = dose_plan.parts_of(row.parts)
    if not parts:
        return Decimal(row.dose_mg)
    return sum((p.dose_mg for p in parts if p.supervised), Decimal(0))


def _ml(product: str | None, mg: Decimal) -> Decimal | None:
    found = PRODUCTS.get(product or "")
    return found.ml_for(mg) if found is not None else None


def _days(dates: Sequence[date]) -> str:
    first, last = min(dates), max(dates)
    return day(first) if first == last else f"{day(first)} to {day(last)}"


def of_handover(
    rows: Sequence[InstalmentDay],
    *,
    product: str | None,
    today: date,
    supervised: bool,
    separate: bool,
) -> list[Container]:
    """The containers handing `rows` over fills: the supervised cup first (when today's
    supervised dose is swallowed here), then the take-home containers in label order."""
    found: list[Container] = []
    cups = [
        row for row in rows if supervised and row.dose_date == today and row.mode == Mode.SUPERVISED
    ]
    for row in cups:
        mg = _cup_mg(row)
        if mg > 0:
            found.append(
                Container(
                    SUPERVISED,
                    f"the supervised dose ({day(row.dose_date)})",
                    (row.dose_date,),
                    mg,
                    _ml(product, mg),
                )
            )
    home = [p for row in rows for p in home_portions(row, swallowed=row in cups)]
    groups = group_containers(home, separate=separate)
    for number, group in enumerate(groups, start=1):
        mg = sum((p.dose_mg for p in group), Decimal(0))
        dates = tuple(p.dose_date for p in group)
        found.append(
            Container(
                str(number),
                f"take-home container {number} of {len(groups)} ({_days(dates)})",
                dates,
                mg,
                _ml(product, mg),
            )
        )
    return found


def at_counter(view: CounterView, counter_id: UUID, today: date) -> list[Container]:
    """The containers today's handover at this counter would fill, as the counter decided it
    (today's supervised dose swallowed here when the decision is supervised)."""
    rows = [r for r in view.rows if pending(r, view) and r.pharmacy_id == counter_id]
    rx = view.facts.prescription
    return of_handover(
        rows,
        product=view.product,
        today=today,
        supervised=view.decision.mode == "supervised",
        separate=rx.separate_containers if rx is not None else False,
    )


# Built once and reused, so SQLAlchemy keeps its cache key (issue 21): read at every handover.
_PUMP_EVENTS = (
    select(AuditEvent)
    .where(
        AuditEvent.entity == "patient",
        AuditEvent.entity_id == bindparam("entity_id"),
        AuditEvent.action.in_((PUMP_DISPENSED, PUMP_FAILED)),
        AuditEvent.at >= bindparam("since"),
    )
    .order_by(AuditEvent.seq)
)


def last_pump_results(
    session: Session, patient_id: UUID, today: date, now: datetime
) -> dict[str, PumpResult]:
    """Today's last pump result for each container of the patient, from the audit log."""
    events = session.scalars(
        _PUMP_EVENTS, {"entity_id": str(patient_id), "since": now - timedelta(days=2)}
    )
    latest: dict[str, PumpResult] = {}
    for event in events:
        facts = event.facts
        if facts.get("date") != today.isoformat() or "container" not in facts:
            continue  # another day's, or written before containers were recorded
        dispensed = facts.get("dispensed_ml") if event.action == PUMP_DISPENSED else None
        latest[str(facts["container"])] = PumpResult(
            str(facts["container"]),
            facts.get("request_id"),
            Decimal(str(facts["requested_ml"])),
            Decimal(str(dispensed)) if dispensed is not None else None,
        )
    return latest


def _reported(
    boxes: Sequence[Container],
    dispensed_ml: Decimal | None,
    measures: Sequence[tuple[str, Decimal]],
) -> dict[str, Decimal]:
    """The pump figures the handover gives, by container; `dispensed_ml` (the field older
    clients send) is the supervised cup's, or the one container's when there is one."""
    keys = [box.key for box in boxes]
    named = ", ".join(keys) or "none"
    figures: dict[str, Decimal] = {}
    for key, ml in measures:
        if key not in keys:
            raise InvalidInput(
                "pump_measures", "container", f"this handover has no container {key} ({named})"
            )
        figures[key] = ml
    if dispensed_ml is None or not boxes:
        return figures
    target = SUPERVISED if SUPERVISED in keys else (keys[0] if len(keys) == 1 else None)
    if target is None:
        raise InvalidInput(
            "pump_dispensed_ml",
            "container",
            f"this handover fills {len(keys)} containers: give each pump measure in "
            "pump_measures, by container",
        )
    if figures.setdefault(target, dispensed_ml) != dispensed_ml:
        raise InvalidInput(
            "pump_dispensed_ml", "container", f"differs from pump_measures for container {target}"
        )
    return figures


def pump_report(
    boxes: Sequence[Container],
    *,
    dispensed_ml: Decimal | None,
    measures: Sequence[tuple[str, Decimal]],
    on_record: Mapping[str, PumpResult],
) -> PumpReport:
    """What the handover is checked with: each figure it gives against its container, and
    each container's last pump result today against the container (a short measure on record
    stands until a later one matches, whatever the handover says)."""
    figures = _reported(boxes, dispensed_ml, measures)
    checks: list[PumpCheck] = []
    kept: tuple[Decimal | None, Decimal | None] = (None, None)
    for box in boxes:
        if box.key in figures:
            checks.append(PumpCheck(box.words, figures[box.key], box.ml))
            if kept[0] is None:
                kept = (figures[box.key], box.ml)
        result = on_record.get(box.key)
        if result is not None and result.dispensed_ml is not None:
            checks.append(PumpCheck(box.words, result.dispensed_ml, box.ml, on_record=True))
            if kept[0] is None:
                kept = (result.dispensed_ml, box.ml)
    return PumpReport(tuple(checks), *kept)
