"""Split and stepped doses (issue 20 §2): which dose, in which parts, on each date, and what
in such a direction cannot be right.

A stepped prescription ("60 mg daily for 7 days, then 55 mg") is the prescription's own daily
dose from its start, then each step's dose from the step's date. A split dose ("30 mg in the
morning, supervised; 20 mg in the evening, to take home") divides a day's dose into parts;
the parts of a day are handed over at one visit, the supervised part swallowed at the counter
and every other part in its own container. Choices where guidance is silent (docs/decisions.md):

- Parts must add up to the day's dose exactly, two to four of them, each more than 0 mg; a
  tablet part must be whole tablets.
- At most one part is supervised: the ledger records one visit a day, and a second supervised
  visit the same day would be recorded nowhere. Such a direction is refused with the reason,
  never silently turned into a take-home.
- Steps start after the prescription's start and on or before its end, in date order, one per
  date; each step's dose is checked like the daily dose.
- The total quantity of a stepped prescription is the sum of each day's dose (words and
  figures), so a typing slip in one step shows as a total that does not agree.

Pure: standard library and the intake vocabulary only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from app.prescriptions.intake_terms import (
    SOURCE_DIRECTION,
    SOURCE_TITRATION,
    SOURCE_TRANSCRIPTION,
    Code,
    DosePart,
    DoseStep,
    Finding,
    PrescriptionDraft,
    amount_text,
    dates_between,
    day_text,
    number_text,
    quantity_for,
)
from app.prescriptions.products import Product

MAX_PARTS = 4


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of days with one daily dose (and one split of it)."""

    starts_on: date
    ends_on: date
    dose_mg: Decimal
    parts: tuple[DosePart, ...]


def segments(draft: PrescriptionDraft) -> list[Segment]:
    """The prescription's days in runs of one dose: its own dose, then each step's.

    Empty when the dates or the dose are missing. Steps outside the prescription or out of
    order are the caller's to refuse (`plan_problems`); here they are taken in date order and
    those outside the dates are left out, so a schedule is never built from them silently.
    """
    start, end, dose = draft.start_on, draft.end_on, draft.daily_dose_mg
    if start is None or end is None or dose is None or start > end:
        return []
    steps = sorted(
        (step for step in draft.steps if start < step.starts_on <= end),
        key=lambda step: step.starts_on,
    )
    runs: list[Segment] = []
    from_day, run_dose, run_parts = start, dose, draft.dose_parts
    for step in steps:
        if step.starts_on > from_day:
            runs.append(Segment(from_day, _day_before(step.starts_on), run_dose, run_parts))
        from_day, run_dose, run_parts = step.starts_on, step.daily_dose_mg, step.parts
    runs.append(Segment(from_day, end, run_dose, run_parts))
    return runs


def dose_on(draft: PrescriptionDraft, day: date) -> tuple[Decimal, tuple[DosePart, ...]]:
    """The dose directed for `day`, and its parts (empty: one dose)."""
    for run in segments(draft):
        if run.starts_on <= day <= run.ends_on:
            return run.dose_mg, run.parts
    raise ValueError(f"{day} is outside the prescription")


def expected_quantity(draft: PrescriptionDraft, product: Product) -> Decimal:
    """The total the instalments add up to, in the product's unit (exact, as intake checks)."""
    return sum(
        (
            quantity_for(product, run.dose_mg)
            * len(list(dates_between(run.starts_on, run.ends_on)))
            for run in segments(draft)
        ),
        Decimal(0),
    )


def describe(draft: PrescriptionDraft, product: Product) -> str:
    """The stepped doses in words, for a message: "60 mg (60 mL) a day for 7 days, then ..."."""
    pieces = []
    for run in segments(draft):
        days = len(list(dates_between(run.starts_on, run.ends_on)))
        amount = amount_text(quantity_for(product, run.dose_mg), product.unit)
        pieces.append(
            f"{number_text(run.dose_mg)} mg ({amount}) a day for {days} day{'s' if days > 1 else ''}"
        )
    return ", then ".join(pieces)


def plan_problems(
    draft: PrescriptionDraft, product: Product | None, max_dose_mg: Decimal | int | None
) -> list[Finding]:
    """Blocks for a split or stepped direction that cannot be right."""
    findings = _step_problems(draft, max_dose_mg)
    runs = [(draft.daily_dose_mg, draft.dose_parts, "the daily dose")]
    runs += [
        (step.daily_dose_mg, step.parts, f"the step from {day_text(step.starts_on)}")
        for step in draft.steps
    ]
    for dose, parts, name in runs:
        if parts and dose is not None:
            findings += _part_problems(dose, parts, product, name, bool(draft.supervised_days))
    return findings


def step_warnings(
    draft: PrescriptionDraft, *, large_increase_mg: Decimal | int, checked: bool
) -> list[Finding]:
    """A step that raises the dose by more than the titration threshold (methadone only):
    guidance the pharmacist acknowledges, as for a new prescription's increase."""
    if not checked:
        return []
    findings = []
    runs = segments(draft)
    for before, after in zip(runs, runs[1:], strict=False):
        if after.dose_mg - before.dose_mg > large_increase_mg:
            findings.append(
                Finding(
                    Code.LARGE_INCREASE,
                    f"The dose steps up from {number_text(before.dose_mg)} mg to "
                    f"{number_text(after.dose_mg)} mg a day on {day_text(after.starts_on)}, an "
                    f"increase of more than {number_text(large_increase_mg)} mg. Confirm the "
                    "titration with the prescriber and watch for signs of overdose after each "
                    "step.",
                    "steps",
                    SOURCE_TITRATION,
                )
            )
    return findings


def _step_problems(draft: PrescriptionDraft, max_dose_mg: Decimal | int | None) -> list[Finding]:
    start, end = draft.start_on, draft.end_on
    problems: list[str] = []
    seen: set[date] = set()
    previous: date | None = None
    for step in draft.steps:
        when = day_text(step.starts_on)
        if start is not None and end is not None and not start < step.starts_on <= end:
            problems.append(
                f"the step from {when} is not after the start ({day_text(start)}) and on or "
                f"before the end ({day_text(end)})"
            )
        if step.starts_on in seen:
            problems.append(f"two steps start on {when}")
        elif previous is not None and step.starts_on < previous:
            problems.append("the steps are not in date order")
        seen.add(step.starts_on)
        previous = step.starts_on
        if not _in_range(step.daily_dose_mg, max_dose_mg):
            limit = "" if max_dose_mg is None else f" and at most {number_text(max_dose_mg)} mg"
            problems.append(
                f"the dose of the step from {when} ({step.daily_dose_mg} mg) must be more than "
                f"0 mg{limit}"
            )
    if not problems:
        return []
    return [
        Finding(
            Code.DOSE_STEPS_INVALID,
            f"The stepped doses cannot be right: {'; '.join(problems)}. Re-enter the steps "
            "exactly as the prescription gives them; if the prescription itself is unclear, ask "
            "the prescriber.",
            "steps",
            SOURCE_TRANSCRIPTION,
        )
    ]


def _part_problems(
    dose: Decimal,
    parts: Sequence[DosePart],
    product: Product | None,
    name: str,
    has_supervised_days: bool,
) -> list[Finding]:
    problems: list[str] = []
    if has_supervised_days and not any(part.supervised for part in parts):
        problems.append(
            "the prescription has supervised days but no part is supervised: say which part is "
            "swallowed at the counter"
        )
    if not 2 <= len(parts) <= MAX_PARTS:
        problems.append(f"a split dose has 2 to {MAX_PARTS} parts, not {len(parts)}")
    if any(not part.dose_mg.is_finite() or part.dose_mg <= 0 for part in parts):
        problems.append("every part must be more than 0 mg")
    elif sum((part.dose_mg for part in parts), Decimal(0)) != dose:
        given = " + ".join(f"{number_text(part.dose_mg)} mg" for part in parts)
        problems.append(f"the parts ({given}) do not add up to {number_text(dose)} mg")
    if any(not part.when.strip() for part in parts):
        problems.append("every part needs the time of day the prescription gives it")
    if sum(1 for part in parts if part.supervised) > 1:
        problems.append(
            "more than one part is supervised, which needs a second visit the same day; this "
            "system records one visit a day, so ask the prescriber whether one part may be "
            "taken home, or dispense the second visit by hand and record it in the notes"
        )
    if product is not None and product.unit != "mL":
        for part in parts:
            units = quantity_for(product, part.dose_mg) if part.dose_mg > 0 else Decimal(1)
            if units != units.to_integral_value():
                problems.append(
                    f"the {part.when} part ({number_text(part.dose_mg)} mg) is not a whole number "
                    f"of {product.unit}s"
                )
    if not problems:
        return []
    return [
        Finding(
            Code.DOSE_PARTS_INVALID,
            f"The split of {name} cannot be right: {'; '.join(problems)}. Re-enter the parts as "
            "the prescription gives them; if the prescription itself is unclear, ask the "
            "prescriber.",
            "dose_parts",
            SOURCE_DIRECTION,
        )
    ]


def _in_range(dose: Decimal, max_dose_mg: Decimal | int | None) -> bool:
    return dose.is_finite() and dose > 0 and (max_dose_mg is None or dose <= max_dose_mg)


def _day_before(day: date) -> date:
    return date.fromordinal(day.toordinal() - 1)


# --- as stored (JSON columns of the prescription and the ledger) ------------------------------


def parts_json(parts: Sequence[DosePart]) -> list[dict[str, Any]] | None:
    """Parts as stored; None for one dose (the column's meaning for rows written before)."""
    if not parts:
        return None
    return [
        {"when": part.when, "dose_mg": str(part.dose_mg), "supervised": part.supervised}
        for part in parts
    ]


def parts_of(stored: Sequence[Mapping[str, Any]] | None) -> tuple[DosePart, ...]:
    return tuple(
        DosePart(str(part["when"]), Decimal(str(part["dose_mg"])), bool(part["supervised"]))
        for part in stored or ()
    )


def home_part_mg(stored: Sequence[Mapping[str, Any]] | None) -> Decimal:
    """Of a stored split dose, the mg of the parts that go home even on a supervised day."""
    return sum((part.dose_mg for part in parts_of(stored) if not part.supervised), Decimal(0))


def steps_json(steps: Sequence[DoseStep]) -> list[dict[str, Any]] | None:
    if not steps:
        return None
    return [
        {
            "starts_on": step.starts_on.isoformat(),
            "daily_dose_mg": str(step.daily_dose_mg),
            "parts": parts_json(step.parts) or [],
        }
        for step in steps
    ]


def steps_of(stored: Sequence[Mapping[str, Any]] | None) -> tuple[DoseStep, ...]:
    return tuple(
        DoseStep(
            date.fromisoformat(str(step["starts_on"])),
            Decimal(str(step["daily_dose_mg"])),
            parts_of(step.get("parts")),
        )
        for step in stored or ()
    )
