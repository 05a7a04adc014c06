"""Prescription intake and schedule generation: facts in, a decision listing every reason out.

Pure by design (DESIGN §3, STYLE B3): no database, no clock, no I/O, standard library only.
The service passes `today`, the pharmacy's opening calendar and the local thresholds; it turns
a refusal into a 422 itself, so the prescriber and the pharmacist see every reason at once.

Blocks are the law (MDR 2001 reg 15 and 16), the NHS instalment-form contract (14 days, the
eligible products), the prescriber's instalment direction (closed days) and input that cannot
be right (a start after the end, a dose of 0 mg). Warnings are clinical guidance (domain-rules
§8): the pharmacist may go ahead once each is acknowledged.

How the direction becomes a schedule: `collection_days` are the weekdays on which the
prescriber directs an instalment to be collected (the FP10MDA grid). An instalment covers its
collection day and every following day up to the next collection day, so "collect Monday and
Thursday" hands out Mon-Wed on Monday and Thu-Sun on Thursday, and "collect Monday to Saturday"
means Saturday's instalment includes Sunday: the direction itself covers a routine Sunday
closure and no closed-day wording is needed (domain-rules §6, England default). Daily
instalments including Sunday are `collection_days` = all seven days; then a Sunday closure
needs the Home Office wording to move Sunday's instalment earlier.

Choices made where the rules are silent (each is pinned by a test):

- An instalment due on a closed day moves, with the `closed_day_prior` wording, to the latest
  open day before it ("a prior suitable day"): the latest keeps the fewest doses at home. It
  may fall before the start date only when every day from the start to the due day is closed
  and the prescription was written on or before that day (domain-rules §6, Numark 2023). It
  never moves later. A dose it carries is take-home even if its weekday is supervised.
- Doses dated before the first collection day (a start date that is not a collection day)
  would have to be collected before the start date: `dose_before_first_collection`, naming them.
- Doses that cannot be scheduled are left out of the schedule and named in the finding's
  `dates`; every other dose is scheduled, so the service can show what would happen.
- `check_intake` returns the schedule whenever its inputs are valid (dates, dose, collection
  and supervised days), even if other blocks refuse the prescription.
- The "supervise consumption on collection days" wording makes every collection day a
  supervised day, on top of `supervised_days`.
- The 28 days: supply is lawful up to and including the appropriate date + 28 days ("not later
  than 28 days after", MDR reg 16). The appropriate date is the later of the written and start
  dates. Only the first instalment is held to it; later instalments follow the direction.
- The total quantity must equal the daily quantity times the days from start to end inclusive,
  exactly (Decimal). A tablet dose must be a whole number of tablets: a pharmacy cannot hand
  over 1.5 sublingual tablets, and the register records whole units.
- Instalment eligibility: an FP10MDA uses the product's England flag; a WP10MDA allows
  Schedules 2-5 (domain-rules §1.3); "private" forms use the England flag too, as the cautious
  reading until a source says otherwise.
- A standard NHS form ("paper", the FP10) cannot order instalments at all: the GMS contract
  (Sch 6 para 39(4)) requires the instalment form, and there is no provision to dispense CDs
  in instalments on an FP10 (NHSBSA). A direction with more than one instalment on it is
  refused as `instalments_need_mda_form`. A private CD form (FP10PCD) may carry an instalment
  direction: MDR reg 15 and 16 do not restrict the form, the MDA limit is NHS-contractual.
- Dose warnings (`high_dose`, `large_increase`, `first_dose_high`) use methadone thresholds, so
  they apply only to the drugs named in `IntakePolicy.dose_checked_drugs`.
- `benzodiazepine_coprescribed` is raised for an opioid with a benzodiazepine on record, and for
  a benzodiazepine with an opioid on record (MHRA: the pair is the risk, whichever is new); the
  context flag says the other half of the pair is present.
- Input sanity (blocks, thresholds in `IntakePolicy`): a dose must be above 0 and at most
  `max_dose_mg`; the date signed may not be after today or be more than `max_years_back` ago,
  nor after the start date; the start may not be more than `max_days_ahead` ahead or
  `max_years_back` ago; no form covers more than `max_days_covered` days; supervised days must
  be collection days (a dose is only supervised when it is collected), all weekdays 0-6.
- The quantity in words must be readable as number words (`words.words_to_number`); figures
  typed into the words field are not words, so they are `quantity_words_unreadable`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from app.prescriptions.products import PRODUCTS, Product
from app.prescriptions.words import words_to_number

__all__ = [
    "BLOCKS",
    "FORM_TYPES",
    "INSTALMENT_FORMS",
    "PRODUCTS",
    "WARNINGS",
    "Calendar",
    "Code",
    "Finding",
    "IntakeContext",
    "IntakeDecision",
    "IntakePolicy",
    "Mode",
    "PrescriptionDraft",
    "Product",
    "ScheduledDose",
    "Wording",
    "check_intake",
    "generate_schedule",
    "quantity_for",
    "words_to_number",
]

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


WARNINGS: frozenset[Code] = frozenset(
    {
        Code.LAST_DOSE_UNKNOWN,
        Code.HIGH_DOSE,
        Code.LARGE_INCREASE,
        Code.FIRST_DOSE_HIGH,
        Code.BENZODIAZEPINE_COPRESCRIBED,
        Code.NON_STANDARD_STRENGTH,
        Code.DOSE_CHANGE_IN_PREGNANCY,
    }
)
BLOCKS: frozenset[Code] = frozenset(Code) - WARNINGS

# Short names of each rule's authority, shown beside the message.
_REG15 = "MDR 2001 reg 15"
_REG16_1A = "MDR 2001 reg 15; reg 16(1A)"
_REG16_28_DAYS = "MDR 2001 reg 16 (28 days)"
_MDA_14_DAYS = "GMS Regs 2004 Sch 6 para 39(4)"
_MDA_PRODUCTS = "FP10MDA/WP10MDA eligibility (CPE instalment dispensing)"
_HO_CLOSED_DAY = "Home Office approved wording (2015)"
_DIRECTION = "Instalment direction; MDR 2001 reg 16"
_TRANSCRIPTION = "Transcription check"
_QT = "MHRA Current Problems 2006;31 (QT)"
_TITRATION = "RCGP methadone titration guidance"
_BENZODIAZEPINES = "MHRA Drug Safety Update, March 2020"
_STRENGTH = "Methadone mg/mL confusion (labels)"
_PREGNANCY = "NHS.uk; NHS GGC maternity guideline"

_CLOSED_DAY_WORDING = "Dispense instalments due on pharmacy closed days on a prior suitable day."
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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


# --- public functions -----------------------------------------------------------------------


def quantity_for(product: Product, dose_mg: Decimal) -> Decimal:
    """Convert a dose in mg to what is measured out: mL for a liquid, units for tablets.

    The result is exact for the strengths in the table; a dose that is not a whole number of
    tablets comes back fractional (check_intake refuses it as `dose_not_whole_units`).
    """
    return product.exact_quantity(dose_mg)


def check_intake(
    draft: PrescriptionDraft, ctx: IntakeContext, calendar: Calendar, policy: IntakePolicy
) -> IntakeDecision:
    """Check a transcribed prescription and list every failing rule, then build its schedule."""
    product = PRODUCTS.get(draft.product_code)
    missing = _missing_fields(draft)
    bad_inputs = _schedule_input_problems(draft, max_dose_mg=policy.max_dose_mg)
    bad_inputs += _date_range_problems(draft, ctx.today, policy)
    blocks = missing + bad_inputs
    blocks += _product_and_form_problems(draft, product, policy)
    blocks += _validity_problems(draft, ctx.today, policy)
    blocks += _quantity_problems(draft, product, policy)
    schedule: tuple[ScheduledDose, ...] = ()
    # A bad written date alone does not stop the schedule: only the fields it is built from do.
    if not any(finding.field in _SCHEDULE_FIELDS for finding in missing + bad_inputs):
        schedule, problems = _build_schedule(draft, calendar)
        blocks += problems
    blocks.sort(key=lambda finding: _ORDER[finding.code])  # stable: field order kept within a code
    return IntakeDecision(tuple(blocks), tuple(_warnings(draft, ctx, policy, product)), schedule)


def generate_schedule(
    draft: PrescriptionDraft, calendar: Calendar
) -> tuple[tuple[ScheduledDose, ...], tuple[Finding, ...]]:
    """Turn the instalment direction into one dose per date, and name what cannot be scheduled.

    Returns the schedule in date order and the problems: `closed_day_needs_amended_prescription`
    and `dose_before_first_collection` name the doses left out (in `Finding.dates`). If the
    inputs themselves are missing or invalid, returns no schedule and those findings instead.
    Used by intake and again whenever a closure is added.
    """
    inputs = [f for f in _missing_fields(draft) if f.field in _SCHEDULE_FIELDS]
    inputs += _schedule_input_problems(draft, max_dose_mg=None)
    if inputs:
        return (), tuple(inputs)
    schedule, problems = _build_schedule(draft, calendar)
    return schedule, tuple(problems)


# --- schedule -------------------------------------------------------------------------------

_SCHEDULE_FIELDS = frozenset(
    {"daily_dose_mg", "start_on", "end_on", "collection_days", "supervised_days"}
)


def _build_schedule(
    draft: PrescriptionDraft, calendar: Calendar
) -> tuple[tuple[ScheduledDose, ...], list[Finding]]:
    """Build the schedule from a draft whose schedule inputs have been checked."""
    start, end, dose_mg, wording = draft.start_on, draft.end_on, draft.daily_dose_mg, draft.wording
    if start is None or end is None or dose_mg is None:  # the callers check first
        raise ValueError("the schedule needs a start date, an end date and a daily dose")
    supervised = draft.supervised_days
    if wording.supervise_on_collection:
        supervised = supervised | draft.collection_days

    # Group dose dates into instalments, keyed by the day the direction makes them due.
    before_first: list[date] = []
    instalments: dict[date, list[date]] = {}
    due: date | None = None
    for day in _dates(start, end):
        if day.weekday() in draft.collection_days:
            due = day
        if due is None:
            before_first.append(day)
        else:
            instalments.setdefault(due, []).append(day)

    schedule: list[ScheduledDose] = []
    stranded: dict[date, list[date]] = {}
    for due_on, dose_dates in instalments.items():
        collect_on: date | None = due_on
        if not calendar.is_open(due_on):
            collect_on = (
                _prior_open_day(due_on, start, draft.written_on, calendar)
                if wording.closed_day_prior
                else None
            )
        if collect_on is None:
            stranded[due_on] = dose_dates
            continue
        for dose_date in dose_dates:
            # Supervised only when consumed at the counter on its own date; a dose collected
            # earlier goes home, whatever the supervised days say.
            on_the_day = dose_date == collect_on and dose_date.weekday() in supervised
            mode: Mode = "supervised" if on_the_day else "take_home"
            schedule.append(ScheduledDose(dose_date, collect_on, mode, dose_mg))

    problems: list[Finding] = []
    if before_first:
        problems.append(_before_first_collection(before_first, draft.collection_days))
    if stranded:
        problems.append(_closed_day(stranded, wording))
    return tuple(schedule), problems


def _prior_open_day(
    due_on: date, start: date, written_on: date | None, calendar: Calendar
) -> date | None:
    """The latest open day before `due_on` on which the instalment may lawfully be supplied.

    Not before the start date, except that when the start date itself is closed a prescription
    written earlier may be supplied on an open day from its written date (Numark 2023): the
    search reaching back past the start means every day from the start to `due_on` is closed.
    """
    earliest = start if written_on is None else min(start, written_on)
    day = due_on
    for _ in range(366):  # a pharmacy shut for a year has no "prior suitable day"
        if day <= earliest:
            return None
        day -= timedelta(days=1)
        if calendar.is_open(day):
            return day
    return None


def _closed_day(stranded: Mapping[date, list[date]], wording: Wording) -> Finding:
    closed = _list_dates(stranded)
    doses = [dose for dose_dates in stranded.values() for dose in dose_dates]
    covering = "" if list(stranded) == doses else f" (doses for {_list_dates(doses)})"
    if wording.closed_day_prior:
        reason = (
            "the pharmacy is closed every day from the start of the prescription (or the date it "
            "was written) until then, so there is no earlier day on which it may lawfully be "
            "supplied"
        )
    else:
        reason = (
            "the prescription does not carry the Home Office wording that allows supply on a "
            f'prior day ("{_CLOSED_DAY_WORDING}")'
        )
    return Finding(
        code=Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION,
        message=(
            f"The pharmacy is closed on {closed}, when "
            f"{'instalments are' if len(stranded) > 1 else 'an instalment is'} due{covering}, and "
            f"{reason}. An instalment can never be supplied late. Ask the prescriber to amend "
            "the prescription before then."
        ),
        field="wording",
        source=_HO_CLOSED_DAY,
        dates=tuple(doses),
    )


def _before_first_collection(doses: list[date], collection_days: frozenset[int]) -> Finding:
    return Finding(
        code=Code.DOSE_BEFORE_FIRST_COLLECTION,
        message=(
            f"{'The doses for' if len(doses) > 1 else 'The dose for'} {_list_dates(doses)} "
            f"{'fall' if len(doses) > 1 else 'falls'} before the first collection day "
            f"({_weekday_names(collection_days)}), so {'they' if len(doses) > 1 else 'it'} "
            "would have to be supplied before the start date, which the law does not allow. "
            "Ask the prescriber to start the "
            "prescription on a collection day or to amend the collection days."
        ),
        field="start_on",
        source=_DIRECTION,
        dates=tuple(doses),
    )


# --- blocks ---------------------------------------------------------------------------------

# Reg 15 elements in the order they appear on the form: field -> what a pharmacist calls it.
_REQUIRED: tuple[tuple[str, str], ...] = (
    ("product_code", "medicine, form and strength"),
    ("form_type", "prescription form type"),
    ("written_on", "date the prescription was signed"),
    ("daily_dose_mg", "daily dose"),
    ("total_quantity", "total quantity in figures"),
    ("total_quantity_words", "total quantity in words"),
    ("collection_days", "instalment amount and interval (collection days)"),
    ("start_on", "start date"),
    ("end_on", "end date"),
    ("direction_text", "instalment direction"),
    ("prescriber_address", "prescriber's address"),
)


def _missing_fields(draft: PrescriptionDraft) -> list[Finding]:
    """One finding per reg 15 element that is not on the prescription."""
    absent = {name for name, _ in _REQUIRED if _is_blank(getattr(draft, name))}
    findings: list[Finding] = []
    for name, what in _REQUIRED:
        if name not in absent:
            continue
        if (
            name in {"total_quantity", "total_quantity_words"}
            and len(absent & {"total_quantity", "total_quantity_words"}) == 1
        ):
            # Words or figures but not both: the one defect a pharmacist may correct.
            other = "words" if name == "total_quantity" else "figures"
            message = (
                f"The {what} is missing, though it is given in {other}. If you are satisfied that "
                "the prescription is genuine and you know what the prescriber intended, you may "
                "add it yourself, indelibly, marking the amendment as yours; otherwise ask the "
                "prescriber."
            )
            findings.append(Finding(Code.MISSING_FIELD, message, name, _REG16_1A))
            continue
        message = (
            f"The {what} is missing. A Schedule 2 prescription is not valid without it: ask the "
            "prescriber for a corrected prescription."
        )
        if name == "daily_dose_mg":
            message += ' ("As directed" is not a dose.)'
        findings.append(Finding(Code.MISSING_FIELD, message, name, _REG15))
    return findings


def _is_blank(value: object) -> bool:
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, frozenset):
        return not value
    return value is None


def _schedule_input_problems(
    draft: PrescriptionDraft, *, max_dose_mg: Decimal | int | None
) -> list[Finding]:
    """Input the schedule cannot be built from: order of dates, dose, weekday sets."""
    findings: list[Finding] = []
    if draft.start_on is not None and draft.end_on is not None and draft.start_on > draft.end_on:
        findings.append(
            Finding(
                Code.START_AFTER_END,
                f"The start date ({_day(draft.start_on)}) is after the end date "
                f"({_day(draft.end_on)}). Check both dates against the prescription.",
                "end_on",
                _TRANSCRIPTION,
            )
        )
    dose = draft.daily_dose_mg
    if dose is not None and not _dose_in_range(dose, max_dose_mg):
        limit = "" if max_dose_mg is None else f" and no more than {_number(max_dose_mg)} mg"
        findings.append(
            Finding(
                Code.DOSE_OUT_OF_RANGE,
                f"The daily dose ({dose} mg) must be more than 0 mg{limit}. Check it against the "
                "prescription: a dose this far out is almost always a typing error.",
                "daily_dose_mg",
                _TRANSCRIPTION,
            )
        )
    if not draft.collection_days <= _ALL_WEEKDAYS:
        findings.append(
            Finding(
                Code.COLLECTION_DAYS_INVALID,
                "The collection days must be weekdays numbered 0 (Monday) to 6 (Sunday). "
                "Re-enter them from the prescription.",
                "collection_days",
                _TRANSCRIPTION,
            )
        )
    if not draft.supervised_days <= _ALL_WEEKDAYS:
        findings.append(
            Finding(
                Code.SUPERVISED_DAYS_INVALID,
                "The supervised days must be weekdays numbered 0 (Monday) to 6 (Sunday). "
                "Re-enter them from the prescription.",
                "supervised_days",
                _TRANSCRIPTION,
            )
        )
    elif not draft.supervised_days <= draft.collection_days:
        extra = _weekday_names(draft.supervised_days - draft.collection_days)
        findings.append(
            Finding(
                Code.SUPERVISED_DAYS_INVALID,
                f"Consumption is to be supervised on {extra}, but no instalment is collected "
                "then: a dose can only be supervised when the patient collects it. Check the "
                "direction, and ask the prescriber if it really says this.",
                "supervised_days",
                _DIRECTION,
            )
        )
    return findings


_ALL_WEEKDAYS = frozenset(range(7))


def _dose_in_range(dose: Decimal, max_dose_mg: Decimal | int | None) -> bool:
    return dose.is_finite() and dose > 0 and (max_dose_mg is None or dose <= max_dose_mg)


def _date_range_problems(
    draft: PrescriptionDraft, today: date, policy: IntakePolicy
) -> list[Finding]:
    """Dates that cannot be meant: the wrong year, a signature in the future, a vast span."""
    earliest = _years_before(today, policy.max_years_back)
    years = "a year" if policy.max_years_back == 1 else f"{policy.max_years_back} years"
    findings: list[Finding] = []

    def out_of_range(name: str, value: date, why: str) -> None:
        what = {"written_on": "date signed", "start_on": "start date", "end_on": "end date"}[name]
        findings.append(
            Finding(
                Code.DATE_OUT_OF_RANGE,
                f"The {what} ({_day(value)}) {why}, which is almost certainly a typing error. "
                "Check the date against the prescription; if it really says this, ask the "
                "prescriber.",
                name,
                _TRANSCRIPTION,
            )
        )

    written, start, end = draft.written_on, draft.start_on, draft.end_on
    if written is not None:
        if written > today:
            out_of_range("written_on", written, "is after today")
        elif written < earliest:
            out_of_range("written_on", written, f"is more than {years} ago")
        if start is not None and written > start:
            findings.append(
                Finding(
                    Code.WRITTEN_AFTER_START,
                    f"The prescription was signed on {_day(written)}, after its start date "
                    f"({_day(start)}). Check both dates; if they are right, ask the prescriber "
                    "for a corrected prescription.",
                    "written_on",
                    _TRANSCRIPTION,
                )
            )
    if start is not None:
        if start < earliest:
            out_of_range("start_on", start, f"is more than {years} ago")
        elif (start - today).days > policy.max_days_ahead:
            out_of_range("start_on", start, f"is more than {policy.max_days_ahead} days ahead")
    if end is not None:
        if end < earliest:
            out_of_range("end_on", end, f"is more than {years} ago")
        elif start is not None and (end - start).days + 1 > policy.max_days_covered:
            out_of_range(
                "end_on",
                end,
                f"makes the prescription cover more than {policy.max_days_covered} days",
            )
    return findings


def _product_and_form_problems(
    draft: PrescriptionDraft, product: Product | None, policy: IntakePolicy
) -> list[Finding]:
    findings: list[Finding] = []
    if product is None and draft.product_code.strip():
        findings.append(
            Finding(
                Code.UNKNOWN_PRODUCT,
                f'"{draft.product_code}" is not a product Dosekeeper knows. Choose the medicine, '
                "form and strength from the list exactly as prescribed.",
                "product_code",
                _TRANSCRIPTION,
            )
        )
    form = draft.form_type
    if form is not None and form.strip() and form not in FORM_TYPES:
        findings.append(
            Finding(
                Code.UNKNOWN_FORM_TYPE,
                f'"{form}" is not a prescription form Dosekeeper knows. Choose one of '
                f"{', '.join(sorted(FORM_TYPES))}.",
                "form_type",
                _TRANSCRIPTION,
            )
        )
    instalments = _instalment_count(draft)
    if form == "paper" and instalments is not None and instalments > 1:
        findings.append(
            Finding(
                Code.INSTALMENTS_NEED_MDA_FORM,
                f"This prescription directs {instalments} instalments but is written on a standard "
                "FP10: in England instalments may only be dispensed from an FP10MDA (WP10MDA in "
                "Wales). Return it to the prescriber for an instalment prescription form.",
                "form_type",
                _MDA_14_DAYS,
            )
        )
    if product is not None and form in FORM_TYPES and not _instalments_allowed(product, form):
        where = (
            "on a WP10MDA only Schedule 2 to 5 controlled drugs can be"
            if form == "WP10MDA"
            else "in England only Schedule 2 controlled drugs, buprenorphine and diazepam can be"
        )
        findings.append(
            Finding(
                Code.NOT_INSTALMENT_ELIGIBLE,
                f"{product.name} cannot be dispensed in instalments on this prescription: {where} "
                "dispensed in instalments. Return it to the prescriber.",
                "product_code",
                _MDA_PRODUCTS,
            )
        )
    days = _days_covered(draft)
    if form in INSTALMENT_FORMS and days is not None and days > policy.max_instalment_days:
        findings.append(
            Finding(
                Code.TOO_MANY_DAYS,
                f"{'A' if form == 'WP10MDA' else 'An'} {form} may order at most {policy.max_instalment_days} days' treatment; this "
                f"one covers {days} days. Ask the prescriber for a prescription of "
                f"{policy.max_instalment_days} days or fewer.",
                "end_on",
                _MDA_14_DAYS,
            )
        )
    return findings


def _instalment_count(draft: PrescriptionDraft) -> int | None:
    """How many instalments the direction makes (collection days within the dates), counting
    a first dose day that is not a collection day as an instalment of its own."""
    if draft.start_on is None or draft.end_on is None or draft.start_on > draft.end_on:
        return None
    if not draft.collection_days <= _ALL_WEEKDAYS:
        return None
    days = list(_dates(draft.start_on, min(draft.end_on, draft.start_on + timedelta(days=400))))
    count = sum(1 for day in days if day.weekday() in draft.collection_days)
    if days and days[0].weekday() not in draft.collection_days:
        count += 1
    return count


def _instalments_allowed(product: Product, form: str) -> bool:
    if form == "WP10MDA":
        return 2 <= product.schedule <= 5  # Wales: Schedules 2-5 (domain-rules §1.3)
    return product.instalment_eligible


def _validity_problems(
    draft: PrescriptionDraft, today: date, policy: IntakePolicy
) -> list[Finding]:
    """The first instalment must be supplied within 28 days of the appropriate date."""
    known = [d for d in (draft.written_on, draft.start_on) if d is not None]
    if not known:
        return []
    appropriate = max(known)
    if (today - appropriate).days <= policy.validity_days:
        return []
    last_day = appropriate + timedelta(days=policy.validity_days)
    return [
        Finding(
            Code.FIRST_SUPPLY_WINDOW,
            f"The first instalment had to be supplied by {_day(last_day)}, "
            f"{policy.validity_days} days after the prescription's appropriate date "
            f"({_day(appropriate)}). The prescription can no longer be dispensed: ask the "
            "prescriber for a new one.",
            "start_on" if appropriate == draft.start_on else "written_on",
            _REG16_28_DAYS,
        )
    ]


def _quantity_problems(
    draft: PrescriptionDraft, product: Product | None, policy: IntakePolicy
) -> list[Finding]:
    """Figures against the instalments, words against the figures, whole tablets."""
    findings: list[Finding] = []
    total = draft.total_quantity
    unit = product.unit if product is not None else ""
    dose = draft.daily_dose_mg
    dose_ok = dose is not None and _dose_in_range(dose, policy.max_dose_mg)
    days = _days_covered(draft)

    if total is not None and not (total.is_finite() and total > 0):
        findings.append(
            Finding(
                Code.SCHEDULE_INCONSISTENT,
                f"The total quantity ({total}) must be more than 0. Check it against the "
                "prescription.",
                "total_quantity",
                _REG15,
            )
        )
    elif total is not None and product is not None and dose is not None and dose_ok and days:
        daily = quantity_for(product, dose)
        expected = daily * days
        if total != expected:
            findings.append(
                Finding(
                    Code.SCHEDULE_INCONSISTENT,
                    f"The total quantity is {_amount(total, unit)}, but {_number(dose)} mg daily "
                    f"for {days} days is {_amount(expected, unit)} ({_amount(daily, unit)} a day "
                    f"of {product.name}). Ask the prescriber which is intended; do not supply "
                    "until the total and the instalments agree.",
                    "total_quantity",
                    _REG15,
                )
            )

    words = draft.total_quantity_words
    if words is not None and words.strip():
        read = words_to_number(words)
        if read is None:
            findings.append(
                Finding(
                    Code.QUANTITY_WORDS_UNREADABLE,
                    f'The total quantity in words ("{words}") cannot be read as a number. '
                    'Re-enter it exactly as written, e.g. "eight hundred and forty"; if the '
                    "prescription itself is unclear, ask the prescriber.",
                    "total_quantity_words",
                    _TRANSCRIPTION,
                )
            )
        elif total is not None and total.is_finite() and read != total:
            findings.append(
                Finding(
                    Code.SCHEDULE_INCONSISTENT,
                    f'The total quantity in words ("{words}", {_number(read)}) does not match '
                    f"the figures ({_number(total)}). Ask the prescriber which is intended.",
                    "total_quantity_words",
                    _REG15,
                )
            )

    if product is not None and product.unit != "mL" and dose is not None and dose_ok:
        units = quantity_for(product, dose)
        if units != units.to_integral_value():
            findings.append(
                Finding(
                    Code.DOSE_NOT_WHOLE_UNITS,
                    f"{_number(dose)} mg a day is {_amount(units, unit)} a day of "
                    f"{product.name}, which cannot be measured out: a dose must be a whole number "
                    f"of {unit}s. Ask the prescriber for a strength, or a combination of "
                    "strengths, that makes the dose.",
                    "daily_dose_mg",
                    _TRANSCRIPTION,
                )
            )
    return findings


def _days_covered(draft: PrescriptionDraft) -> int | None:
    if draft.start_on is None or draft.end_on is None or draft.start_on > draft.end_on:
        return None
    return (draft.end_on - draft.start_on).days + 1


# --- warnings -------------------------------------------------------------------------------


def _warnings(
    draft: PrescriptionDraft, ctx: IntakeContext, policy: IntakePolicy, product: Product | None
) -> list[Finding]:
    if product is None:
        return []
    findings: list[Finding] = []
    dose, previous = draft.daily_dose_mg, ctx.previous_daily_dose_mg
    dose_ok = dose is not None and _dose_in_range(dose, policy.max_dose_mg)
    if dose is not None and dose_ok and product.drug in policy.dose_checked_drugs:
        if dose > policy.high_dose_mg:
            findings.append(
                Finding(
                    Code.HIGH_DOSE,
                    f"{_number(dose)} mg a day is above {_number(policy.high_dose_mg)} mg, where "
                    "the QT interval should be monitored. Check that the prescriber is aware of "
                    "QT monitoring before the first supply.",
                    "daily_dose_mg",
                    _QT,
                )
            )
        if previous is not None and dose - previous > policy.large_increase_mg:
            findings.append(
                Finding(
                    Code.LARGE_INCREASE,
                    f"The dose rises from {_number(previous)} mg to {_number(dose)} mg a day, an "
                    f"increase of more than {_number(policy.large_increase_mg)} mg. Confirm the "
                    "increase with the prescriber and watch for signs of overdose.",
                    "daily_dose_mg",
                    _TITRATION,
                )
            )
        if previous is None and dose > policy.first_dose_mg:
            findings.append(
                Finding(
                    Code.FIRST_DOSE_HIGH,
                    f"This patient has no previous prescription, and {_number(dose)} mg a day is "
                    f"above the usual starting dose of {_number(policy.first_dose_mg)} mg. "
                    "Confirm with the prescriber that the patient is tolerant (for example, a "
                    "transfer from another service) before the first supply.",
                    "daily_dose_mg",
                    _TITRATION,
                )
            )
    if ctx.benzodiazepine_coprescribed and (product.opioid or product.benzodiazepine):
        findings.append(
            Finding(
                Code.BENZODIAZEPINE_COPRESCRIBED,
                "An opioid and a benzodiazepine are both prescribed for this patient: together "
                "they can cause fatal breathing problems. Check that the prescriber is aware, "
                "counsel the patient on the signs, and watch closely for at least 2 weeks after "
                "starting or any dose change.",
                "product_code",
                _BENZODIAZEPINES,
            )
        )
    if product.confusable_strength:
        findings.append(
            Finding(
                Code.NON_STANDARD_STRENGTH,
                f"{product.name} is not the standard strength: a mix-up between mg and mL would "
                "multiply the dose. Check the strength on the prescription and on the bottle, "
                "and label each dose in mg and mL.",
                "product_code",
                _STRENGTH,
            )
        )
    if not ctx.last_dose_known:
        findings.append(
            Finding(
                Code.LAST_DOSE_UNKNOWN,
                "No dose of this medicine is on record for the patient here, and nobody has "
                "recorded when they last took one elsewhere. Ask the prescriber or previous "
                "pharmacy (or the patient) and record the last dose taken, or that the patient "
                "is new to treatment: the counter will not supply until it is recorded.",
                "last_dose",
                "Loss of tolerance (DESIGN §3)",
            )
        )
    if ctx.pregnant and previous is not None and dose is not None and dose_ok and dose != previous:
        findings.append(
            Finding(
                Code.DOSE_CHANGE_IN_PREGNANCY,
                f"The patient is pregnant and the dose changes from {_number(previous)} mg to "
                f"{_number(dose)} mg a day. Confirm the change with the prescriber and make sure "
                "the maternity team knows.",
                "daily_dose_mg",
                _PREGNANCY,
            )
        )
    return findings


# --- wording helpers ------------------------------------------------------------------------

_ORDER: Mapping[Code, int] = {code: index for index, code in enumerate(Code)}


def _dates(start: date, end: date) -> Iterator[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def _years_before(day: date, years: int) -> date:
    year = day.year - years
    if year < date.min.year:
        return date.min
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=year, day=28)


def _day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _list_dates(days: Iterable[date]) -> str:
    names = [_day(day) for day in days]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _weekday_names(days: Iterable[int]) -> str:
    names = [_WEEKDAYS[day] for day in sorted(days) if 0 <= day <= 6]
    return ", ".join(names) if names else "none"


def _number(value: Decimal | int) -> str:
    """840, 6.5, 1.5: no exponent, no trailing zeros."""
    number = Decimal(value)
    return format(number.normalize(), "f") if number.is_finite() else str(number)


def _amount(quantity: Decimal, unit: str) -> str:
    if unit == "mL" or not unit:
        return f"{_number(quantity)} {unit}".rstrip()
    return f"{_number(quantity)} {unit}{'' if quantity == 1 else 's'}"
