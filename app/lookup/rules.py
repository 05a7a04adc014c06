"""What a look-up may say, decided on plain facts (no database, clock or web framework).

The counter's decision names its blocks in the pharmacy's words, some of which are about the
household (a lockable box, the children living there). A look-up says only whether the counter
is blocked today and a plain category of why, so a ward learns what it needs to dose safely and
nothing about who lives with the patient (H-27.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from app.dosing.counter_wording import describe_last_dose
from app.dosing.decision_inputs import LastDose

# Counter blocks that are not about the patient: nothing is due today, or today's dose was
# already given (the last dose says so).
NOT_A_BLOCK: frozenset[str] = frozenset({"not_due_today", "already_recorded"})
# The counter's block codes, by the category a look-up names. A code missing here (a block
# added later) is still reported, as "other": a block is never silently dropped.
CATEGORY_OF: Mapping[str, str] = MappingProxyType(
    {
        "missed_threshold_reached": "missed_doses",
        "last_dose_unknown": "last_dose_unknown",
        "withheld_today": "withheld_today",
        "patient_intoxicated": "withheld_today",
        "prescription_not_active": "no_current_prescription",
        "no_prescription": "no_current_prescription",
        "before_start": "no_current_prescription",
        "wrong_pharmacy": "pharmacy_check",
        "no_lockable_box": "pharmacy_check",
        "children_not_confirmed": "pharmacy_check",
        "measuring_device_not_recorded": "pharmacy_check",
        "supervised_needs_patient": "pharmacy_check",
        "dosed_at_guest_pharmacy": "dosed_elsewhere",
    }
)
CATEGORY_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "suspended": "The prescription is suspended: the pharmacy is not supplying.",
        "missed_doses": "Days have gone by without a dose: tolerance may be reduced. The "
        "pharmacy will not supply again until the prescriber has reviewed.",
        "last_dose_unknown": "The pharmacy has no record of when the patient last took a dose.",
        "withheld_today": "A pharmacist withheld today's dose.",
        "no_current_prescription": "No active prescription covers today.",
        "pharmacy_check": "A check at the pharmacy must be completed before the next supply.",
        "dosed_elsewhere": "The patient is staying away and is dosed at another pharmacy on "
        "these days (guest dosing): today's dose is that pharmacy's to give. Phone the "
        "dispensing pharmacy for its details.",
        "other": "The pharmacy's counter is blocked today; ask the pharmacy when it opens.",
    }
)


@dataclass(frozen=True, slots=True)
class BlockCategory:
    code: str
    message: str


def block_categories(codes: Iterable[str], *, suspended: bool) -> tuple[BlockCategory, ...]:
    """The categories of the counter's blocks today, each once, in the order first named."""
    seen: list[str] = []
    for code in codes:
        if code in NOT_A_BLOCK:
            continue
        category = CATEGORY_OF.get(code, "other")
        if suspended and code == "prescription_not_active":
            category = "suspended"
        if category not in seen:
            seen.append(category)
    return tuple(BlockCategory(c, CATEGORY_WORDS[c]) for c in seen)


@dataclass(frozen=True, slots=True)
class WentHome:
    """The take-home supply the last dose was part of: handed over on `collected_on`, for the
    doses dated `first` to `last`."""

    collected_on: date
    days: int
    first: date
    last: date


def describe(last: LastDose | None, went_home: WentHome | None, today: date) -> str:
    """The counter's own sentence for the last dose taken, with where it went home: "last dose
    taken: Wed 2 Dec 2026 (yesterday), take-home — 2 days went home on Tue 1 Dec 2026"."""
    text = describe_last_dose(last, today)
    if last is not None and last.source == "here":
        # "here" is the pharmacy's word for itself; the caller is somewhere else.
        text = text.removesuffix(" here").removesuffix(" ") + (
            " at the pharmacy" if last.mode == "supervised" else ""
        )
    if went_home is not None:
        days = f"{went_home.days} day{'s' if went_home.days != 1 else ''}"
        text += f" — {days} went home on {day_words(went_home.collected_on)}"
        if went_home.last > today:
            text += f"; doses up to {day_words(went_home.last)} are at home"
    return text


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_words(value: date) -> str:
    """ "Tue 1 Dec 2026", spelled out without the locale, as the counter does."""
    return f"{_WEEKDAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year}"
