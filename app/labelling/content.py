"""What goes on a take-home label: pure, from facts to lines. No database, no printer.

Legal fields (Human Medicines Regulations 2012 Sch 25 Pt 1): the patient's name, the name and
address of the pharmacy, the date of supply, the medicine, directions and precautions. Missing
any of them refuses the label with the field named. The RPS-recommended children warning and a
sourced danger-to-children line are always printed. Cautionary wording comes from product data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from app.prescriptions.products import ml_at

KEEP_AWAY = "Keep out of the sight and reach of children."
# TIAFT 1998 (domain-rules §3.3): a sourced statement, not an invented "fatal dose".
DANGER = "Methadone can kill a child: less than 10 mL can seriously poison a small child."
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class LabelRefused(ValueError):
    """A legal field is missing: the label must not be printed."""

    def __init__(self, field: str) -> None:
        super().__init__(f"the label cannot be printed without the {field.replace('_', ' ')}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    bold: bool = False
    centre: bool = False
    double_height: bool = False


@dataclass(frozen=True, slots=True)
class LabelFacts:
    patient_name: str
    pharmacy_name: str
    pharmacy_address: str
    pharmacy_phone: str
    supplied_on: date
    medicine: str  # product name with strength and form, e.g. "Methadone 1mg/mL oral solution"
    strength_mg_per_ml: Decimal | None
    dose_mg: Decimal  # per day
    dose_dates: tuple[date, ...]
    directions: str
    cautionary_wording: tuple[str, ...]
    separate_containers: bool
    reprint: bool = False


def day(value: date) -> str:
    return f"{_WEEKDAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year}"


def _number(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def _ml(mg: Decimal, strength: Decimal | None) -> Decimal | None:
    quantity = ml_at(mg, strength)
    return None if quantity is None else quantity.normalize()


def _require(facts: LabelFacts) -> None:
    for field in ("patient_name", "pharmacy_name", "pharmacy_address", "medicine", "directions"):
        if not str(getattr(facts, field)).strip():
            raise LabelRefused(field)
    if not facts.dose_dates:
        raise LabelRefused("days_covered")
    if facts.dose_mg <= 0:
        raise LabelRefused("dose")


def containers(facts: LabelFacts) -> list[tuple[date, ...]]:
    """One container per day with the separate-containers wording, else one for the lot."""
    if facts.separate_containers:
        return [(d,) for d in facts.dose_dates]
    return [facts.dose_dates]


def label_lines(facts: LabelFacts, dates: Sequence[date], *, number: int, of: int) -> list[Line]:
    """The lines of one container's label, in the order a pharmacist reads them."""
    _require(facts)
    per_day_ml = _ml(facts.dose_mg, facts.strength_mg_per_ml)
    total_mg = facts.dose_mg * len(dates)
    total_ml = _ml(total_mg, facts.strength_mg_per_ml)
    amount = (
        f"{_number(per_day_ml)} mL ({_number(facts.dose_mg)} mg)"
        if per_day_ml is not None
        else f"{_number(facts.dose_mg)} mg"
    )
    quantity = (
        f"{_number(total_ml)} mL = {_number(total_mg)} mg"
        if total_ml is not None
        else f"{_number(total_mg)} mg"
    )
    lines = []
    if facts.reprint:
        lines.append(Line("** REPRINT **", bold=True, centre=True))
    lines += [
        Line(facts.medicine, bold=True, centre=True, double_height=True),
        Line(f"Quantity: {quantity}"),
        Line(f"Take {amount} ONCE a day."),
        Line(facts.directions),
    ]
    if len(dates) == 1:
        lines.append(Line(f"For: {day(dates[0])}", bold=True))
    else:
        lines.append(
            Line(f"For: {day(dates[0])} to {day(dates[-1])} ({len(dates)} days)", bold=True)
        )
    if of > 1:
        lines.append(Line(f"Container {number} of {of}"))
    lines += [Line(text) for text in facts.cautionary_wording]
    lines += [
        Line(KEEP_AWAY, bold=True),
        Line(DANGER, bold=True),
        Line(facts.patient_name, bold=True),
        Line(f"Supplied {day(facts.supplied_on)}"),
        Line(facts.pharmacy_name),
        Line(facts.pharmacy_address),
    ]
    if facts.pharmacy_phone.strip():
        lines.append(Line(f"Tel {facts.pharmacy_phone}"))
    return lines
