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

from app.prescriptions.products import measured, ml_at

KEEP_AWAY = "Keep out of the sight and reach of children."
# TIAFT 1998 (domain-rules §3.3): a sourced statement, not an invented "fatal dose".
DANGER = "Methadone can kill a child: less than 10 mL can seriously poison a small child."


def danger_for(drug: str, strength_mg_per_ml: Decimal | None) -> str:
    """The danger-to-children line. TIAFT's sourced figure is about the 1 mg/mL solution: a
    concentrate poisons in far less, and another medicine (buprenorphine, diazepam) is not
    methadone, so those say the danger without a volume rather than a wrong one."""
    if drug == "methadone" and strength_mg_per_ml == 1:
        return DANGER
    return f"{drug.capitalize()} can kill a child: even a small amount can seriously poison a small child."


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
class Portion:
    """What goes home for one dose date: the day's whole dose, or one part of a split dose
    (issue 20 §2), which always has a container and a label of its own."""

    dose_date: date
    dose_mg: Decimal
    when: str | None = None  # the part ("evening"); None: the whole day's dose


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
    # Each day's dose when it is not `dose_mg` every day (a stepped prescription), and the
    # parts of a split dose; empty: `dose_mg` on each of `dose_dates`.
    portions: tuple[Portion, ...] = ()
    danger: str = DANGER
    # Tablets: mg per tablet and what is counted, so the label says "2 tablets (16 mg)".
    strength_mg_per_unit: Decimal | None = None
    unit: str = "mL"


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


def portions_of(facts: LabelFacts) -> tuple[Portion, ...]:
    return facts.portions or tuple(Portion(d, facts.dose_mg) for d in facts.dose_dates)


def containers(facts: LabelFacts) -> list[tuple[Portion, ...]]:
    """The label's containers for `facts` (see `group_containers`)."""
    return group_containers(portions_of(facts), separate=facts.separate_containers)


def group_containers(portions: Sequence[Portion], *, separate: bool) -> list[tuple[Portion, ...]]:
    """One container per day with the separate-containers wording, else one for each run of
    days with the same dose (a stepped dose never shares a container with another dose, so
    "ONCE a day" is true of everything in it); every part of a split dose in its own. The dose
    pump measures one container at a time in this order (`app.dosing.containers`)."""
    groups: list[tuple[Portion, ...]] = []
    run: list[Portion] = []
    for portion in portions:
        if portion.when is not None or separate:
            groups.append((portion,))
            continue
        if run and run[-1].dose_mg != portion.dose_mg:
            groups.append(tuple(run))
            run = []
        run.append(portion)
    if run:
        groups.append(tuple(run))
    return sorted(groups, key=lambda group: (group[0].dose_date, group[0].when is not None))


def label_lines(facts: LabelFacts, dates: Sequence[date], *, number: int, of: int) -> list[Line]:
    """The lines of one container holding the daily dose for `dates`."""
    return container_lines(facts, [Portion(d, facts.dose_mg) for d in dates], number=number, of=of)


def _amount(mg: Decimal, facts: LabelFacts) -> str:
    """ "60 mL (60 mg)" for a liquid, "2 tablets (16 mg)" for tablets, else the mg."""
    ml = _ml(mg, facts.strength_mg_per_ml)
    if ml is not None:
        return f"{_number(ml)} mL ({_number(mg)} mg)"
    if facts.strength_mg_per_unit:
        count = measured(mg / facts.strength_mg_per_unit).normalize()
        plural = "" if count == 1 else "s"
        return f"{_number(count)} {facts.unit}{plural} ({_number(mg)} mg)"
    return f"{_number(mg)} mg"


def container_lines(
    facts: LabelFacts, portions: Sequence[Portion], *, number: int, of: int
) -> list[Line]:
    """The lines of one container's label, in the order a pharmacist reads them."""
    _require(facts)
    dates = [portion.dose_date for portion in portions]
    total_mg = sum((portion.dose_mg for portion in portions), Decimal(0))
    quantity = _amount(total_mg, facts).replace(" (", " = ").rstrip(")")
    first = portions[0]
    amount = _amount(first.dose_mg, facts)
    take = (
        f"Take {amount} ONCE a day."
        if first.when is None
        else f"Take {amount} in the {first.when.upper()} (part of the day's split dose)."
    )
    lines = []
    if facts.reprint:
        lines.append(Line("** REPRINT **", bold=True, centre=True))
    lines += [
        Line(facts.medicine, bold=True, centre=True, double_height=True),
        Line(f"Quantity: {quantity}"),
        Line(take),
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
        Line(facts.danger, bold=True),
        Line(facts.patient_name, bold=True),
        Line(f"Supplied {day(facts.supplied_on)}"),
        Line(facts.pharmacy_name),
        Line(facts.pharmacy_address),
    ]
    if facts.pharmacy_phone.strip():
        lines.append(Line(f"Tel {facts.pharmacy_phone}"))
    return lines
