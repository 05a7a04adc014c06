"""The intake rules' vocabulary: the codes and where each rule comes from, the transcribed
draft and its context, the pharmacy calendar, a scheduled dose, the decision, and the few
wording helpers every message uses.

Pure (no database, clock or I/O), shared by the intake checks, schedule generation and the
intake use cases (app/intake/).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from app.prescriptions.products import Product

Mode = Literal["supervised", "take_home"]

FORM_TYPES: frozenset[str] = frozenset({"FP10MDA", "WP10MDA", "paper", "private"})
# The NHS instalment forms: 14 days at most, and only eligible products (domain-rules §1.3).
INSTALMENT_FORMS: frozenset[str] = frozenset({"FP10MDA", "WP10MDA"})


class Code(StrEnum):
    """Stable API codes: blocks first, then warnings. Never rename one; add a new code instead."""

    # Blocks: the law, the NHS contract and the prescriber's direction
    MISSING_FIELD = "missing_field"
    TOO_MANY_DAYS = "too_many_days"
    FIRST_SUPPLY_WINDOW = "first_supply_window"
    SCHEDULE_INCONSISTENT = "schedule_inconsistent"
    NOT_INSTALMENT_ELIGIBLE = "not_instalment_eligible"
    INSTALMENTS_NEED_MDA_FORM = "instalments_need_mda_form"
    CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION = "closed_day_needs_amended_prescription"
    DOSE_BEFORE_FIRST_COLLECTION = "dose_before_first_collection"
    # Blocks: input that cannot be right, or cannot be read
    UNKNOWN_PRODUCT = "unknown_product"
    UNKNOWN_FORM_TYPE = "unknown_form_type"
    START_AFTER_END = "start_after_end"
    WRITTEN_AFTER_START = "written_after_start"
    DATE_OUT_OF_RANGE = "date_out_of_range"
    DOSE_OUT_OF_RANGE = "dose_out_of_range"
    DOSE_NOT_WHOLE_UNITS = "dose_not_whole_units"
    COLLECTION_DAYS_INVALID = "collection_days_invalid"
    SUPERVISED_DAYS_INVALID = "supervised_days_invalid"
    QUANTITY_WORDS_UNREADABLE = "quantity_words_unreadable"
    # Warnings: guidance, acknowledged by the pharmacist
    HIGH_DOSE = "high_dose"
    LARGE_INCREASE = "large_increase"
    FIRST_DOSE_HIGH = "first_dose_high"
    BENZODIAZEPINE_COPRESCRIBED = "benzodiazepine_coprescribed"
    NON_STANDARD_STRENGTH = "non_standard_strength"
    DOSE_CHANGE_IN_PREGNANCY = "dose_change_in_pregnancy"
    LAST_DOSE_UNKNOWN = "last_dose_unknown"
    # Warning: sugar-free, standard or concentrate changed from the last prescription (H-31)
    PRODUCT_CHANGED = "product_changed"
    # Blocks: a split or stepped direction that cannot be right (issue 20 §2)
    DOSE_PARTS_INVALID = "dose_parts_invalid"
    DOSE_STEPS_INVALID = "dose_steps_invalid"


WARNINGS: frozenset[Code] = frozenset(
    {
        Code.LAST_DOSE_UNKNOWN,
        Code.HIGH_DOSE,
        Code.LARGE_INCREASE,
        Code.FIRST_DOSE_HIGH,
        Code.BENZODIAZEPINE_COPRESCRIBED,
        Code.NON_STANDARD_STRENGTH,
        Code.DOSE_CHANGE_IN_PREGNANCY,
        Code.PRODUCT_CHANGED,
    }
)
BLOCKS: frozenset[Code] = frozenset(Code) - WARNINGS
# Warnings the checking pharmacist must acknowledge one by one before a prescription goes live:
# a concentrate, and a change of liquid (H-31: sugar-free/standard and concentrate confusion).
MUST_ACKNOWLEDGE: frozenset[Code] = frozenset({Code.NON_STANDARD_STRENGTH, Code.PRODUCT_CHANGED})

# Short names of each rule's authority, shown beside the message.
_REG15 = "MDR 2001 reg 15"
_REG16_1A = "MDR 2001 reg 15; reg 16(1A)"
_REG16_28_DAYS = "MDR 2001 reg 16 (28 days)"
_MDA_14_DAYS = "GMS Regs 2004 Sch 6 para 39(4)"
SOURCE_MDA_PRODUCTS = "FP10MDA/WP10MDA eligibility (CPE instalment dispensing)"
SOURCE_HO_CLOSED_DAY = "Home Office approved wording (2015)"
SOURCE_DIRECTION = "Instalment direction; MDR 2001 reg 16"
SOURCE_TRANSCRIPTION = "Transcription check"
SOURCE_QT = "MHRA Current Problems 2006;31 (QT)"
SOURCE_TITRATION = "RCGP methadone titration guidance"
SOURCE_BENZODIAZEPINES = "MHRA Drug Safety Update, March 2020"
SOURCE_STRENGTH = "Methadone mg/mL confusion (labels)"
SOURCE_PRODUCT_CHANGE = "Sugar-free/standard confusion (reported dispensing incidents)"
SOURCE_PREGNANCY = "NHS.uk; NHS GGC maternity guideline"

CLOSED_DAY_WORDING = "Dispense instalments due on pharmacy closed days on a prior suitable day."
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class Finding:
    """Why a prescription is refused or needs acknowledging: code, plain English, source."""

    code: Code
    message: str  # plain English for a pharmacist, ending with what to do
    field: str | None  # the draft field at fault, for highlighting; None when it is no one field
    source: str  # short name of the rule's authority, e.g. "MDR 2001 reg 16"
    # The dose dates the finding is about, when it is about dates: for the schedule findings,
    # exactly the doses left out of the schedule.
    dates: tuple[date, ...] = ()


@dataclass(frozen=True, slots=True)
class Wording:
    """Home Office approved instalment wording on the prescription (domain-rules §1.5)."""

    closed_day_prior: bool = (
        False  # "Dispense instalments due on pharmacy closed days on a prior suitable day."
    )
    missed_remaining: bool = False  # "...still dispense the amount due for any remaining day(s)..."
    consult_after_3_missed: bool = (
        False  # "Consult the prescriber if 3 or more consecutive days..."
    )
    supervise_on_collection: bool = False  # "Supervise consumption on collection days."
    separate_containers: bool = False  # "Dispense daily doses in separate containers."


@dataclass(frozen=True, slots=True)
class DosePart:
    """One part of a split daily dose, as the prescriber directs it ("30 mg in the morning,
    supervised; 20 mg in the evening, to take home")."""

    when: str  # the prescriber's words for the part: "morning", "evening"
    dose_mg: Decimal
    # Swallowed at the counter on a supervised day. A part that is not supervised goes home in
    # its own container even on a supervised day; on a take-home day every part goes home.
    supervised: bool


@dataclass(frozen=True, slots=True)
class DoseStep:
    """From `starts_on` (inclusive) the daily dose is `daily_dose_mg`: a reduction or a
    titration. The prescription's own daily dose runs from its start to the first step."""

    starts_on: date
    daily_dose_mg: Decimal
    parts: tuple[DosePart, ...] = ()  # the split of this step's dose, if the dose is split


@dataclass(frozen=True, slots=True)
class PrescriptionDraft:
    """A prescription as transcribed, before any check. None means "not on the prescription"."""

    product_code: str  # a key of PRODUCTS: drug, form and strength together
    daily_dose_mg: Decimal | None
    form_type: str | None  # "FP10MDA", "WP10MDA", "paper", "private"
    written_on: date | None  # the date signed
    start_on: date | None  # the prescriber's start date (the first dose date)
    end_on: date | None  # the last dose date
    total_quantity: Decimal | None  # in figures: mL for liquids, tablets or capsules otherwise
    total_quantity_words: str | None  # as written, e.g. "eight hundred and forty"
    supervised_days: frozenset[int]  # weekdays, 0 = Monday ... 6 = Sunday
    collection_days: frozenset[int]  # weekdays an instalment is due (the instalment interval)
    wording: Wording
    direction_text: str | None  # the instalment direction verbatim
    # The prescriber's address as on the form (a reg 15 element); None: not on the form.
    prescriber_address: str | None = None
    # A split of the daily dose (from the start to the first step), and the steps of a
    # reduction or titration; both empty for one fixed daily dose.
    dose_parts: tuple[DosePart, ...] = ()
    steps: tuple[DoseStep, ...] = ()


@dataclass(frozen=True, slots=True)
class IntakeContext:
    """Facts about the patient and the day, gathered by the service."""

    today: date  # pharmacy-local calendar date
    previous_daily_dose_mg: Decimal | None  # last prescription of the same drug; None: new patient
    # The other half of an opioid-benzodiazepine pair is prescribed or declared: a
    # benzodiazepine for an opioid draft, an opioid for a benzodiazepine draft.
    benzodiazepine_coprescribed: bool
    pregnant: bool = False
    # No dose is on record here and nobody has recorded the last one taken elsewhere (nor that
    # the patient is new to treatment).
    last_dose_known: bool = True
    # The product of the patient's latest earlier prescription of the same drug (not
    # cancelled); None: none. A change of liquid (sugar-free, standard, concentrate) is warned.
    previous_product_code: str | None = None


@dataclass(frozen=True, slots=True)
class IntakePolicy:
    """Thresholds: local guidance settings, plus the legal and contract limits they sit beside.

    `validity_days` and `max_instalment_days` are set by law and contract and are here only so
    the numbers live in one place; do not change them locally.
    """

    # mg thresholds take int or Decimal: settings hold whole mg, tests may want fractions.
    high_dose_mg: Decimal | int = Decimal(100)  # above this per day: QT monitoring (MHRA)
    large_increase_mg: Decimal | int = Decimal(10)  # more than this over the previous prescription
    first_dose_mg: Decimal | int = Decimal(30)  # above this for a new patient
    max_instalment_days: int = 14  # FP10MDA/WP10MDA (NHS contract)
    validity_days: int = 28  # first supply no later than this many days after (MDR reg 16)
    max_dose_mg: Decimal | int = Decimal(1000)  # above this a daily dose is a typing error
    # A written, start or end date more than this many years before today is a typing error
    # (usually the wrong year): a real one would be far beyond its 28 days anyway.
    max_years_back: int = 1
    # A start date more than this many days after today is a typing error: prescriptions
    # arrive days or a few weeks ahead of their start, not months.
    max_days_ahead: int = 60
    # No prescription on any form covers more days than this; beyond it the end date is a
    # typing error. The 14-day limit for NHS instalment forms is checked separately.
    max_days_covered: int = 92
    # The mg thresholds above are methadone's (domain-rules §8.1-8.2).
    dose_checked_drugs: frozenset[str] = frozenset({"methadone"})

    def __post_init__(self) -> None:
        # A zero or negative limit would refuse or pass everything, so a bad setting fails loudly.
        limits = (self.max_instalment_days, self.validity_days, self.max_years_back)
        if min(limits) < 1 or self.max_days_ahead < 0 or self.max_days_covered < 1:
            raise ValueError("day and year limits must be positive")
        thresholds = (self.high_dose_mg, self.large_increase_mg, self.first_dose_mg)
        if min(thresholds) <= 0 or self.max_dose_mg <= 0:
            raise ValueError("mg thresholds must be positive")


@dataclass(frozen=True, slots=True)
class Calendar:
    """When the pharmacy is open: a weekly pattern less dated closures (bank holidays, ad hoc)."""

    open_weekdays: frozenset[int]  # 0 = Monday ... 6 = Sunday
    closures: frozenset[date] = frozenset()

    def is_open(self, day: date) -> bool:
        """Tell whether the pharmacy opens on `day`."""
        return day.weekday() in self.open_weekdays and day not in self.closures


@dataclass(frozen=True, slots=True)
class ScheduledDose:
    """One instalment day: the dose for `dose_date`, collected on `collect_on` (never later)."""

    dose_date: date
    collect_on: date
    mode: Mode
    dose_mg: Decimal
    parts: tuple[DosePart, ...] = ()  # the day's dose split as directed; empty: one dose


@dataclass(frozen=True, slots=True)
class IntakeDecision:
    """Everything wrong with a draft (`blocks`), what needs acknowledging, and the schedule."""

    blocks: tuple[Finding, ...]
    warnings: tuple[Finding, ...]
    # The schedule whenever its inputs are valid, even when other blocks refuse the draft.
    schedule: tuple[ScheduledDose, ...] = ()

    @property
    def accepted(self) -> bool:
        return not self.blocks


# --- wording helpers ------------------------------------------------------------------------

CODE_ORDER: Mapping[Code, int] = {code: index for index, code in enumerate(Code)}


def dates_between(start: date, end: date) -> Iterator[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def years_before(day: date, years: int) -> date:
    year = day.year - years
    if year < date.min.year:
        return date.min
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=year, day=28)


def day_text(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def list_dates(days: Iterable[date]) -> str:
    names = [day_text(day) for day in days]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def weekday_names(days: Iterable[int]) -> str:
    names = [WEEKDAY_NAMES[day] for day in sorted(days) if 0 <= day <= 6]
    return ", ".join(names) if names else "none"


def number_text(value: Decimal | int) -> str:
    """840, 6.5, 1.5: no exponent, no trailing zeros."""
    number = Decimal(value)
    return format(number.normalize(), "f") if number.is_finite() else str(number)


def amount_text(quantity: Decimal, unit: str) -> str:
    if unit == "mL" or not unit:
        return f"{number_text(quantity)} {unit}".rstrip()
    return f"{number_text(quantity)} {unit}{'' if quantity == 1 else 's'}"


def quantity_for(product: Product, dose_mg: Decimal) -> Decimal:
    """Convert a dose in mg to what is measured out: mL for a liquid, units for tablets.

    The result is exact for the strengths in the table; a dose that is not a whole number of
    tablets comes back fractional (check_intake refuses it as `dose_not_whole_units`).
    """
    return product.exact_quantity(dose_mg)
